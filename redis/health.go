package redis

import (
	"sync"
	"time"
)

// health is whether Redis answers, as a Store last found. While it is
// down, calls go to the Mode's answer without waiting a call timeout
// each, and Redis is tried again every RetryEvery.
type health struct {
	mu        sync.Mutex
	down      bool
	since     time.Time // when it went down
	lastTry   time.Time
	probing   bool // a probe of Redis is under way (Store.probe)
	procs     int  // processes seen sharing, from the last answer
	lastError error
}

func (h *health) isDown() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.down
}

// shouldTry reports whether to ask Redis now: when it is up. While it is
// down, admissions never wait on it: the Mode answers them, and
// probeDue says when to try Redis again, off their path.
func (h *health) shouldTry() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.down
}

// probeDue reports whether a probe should start now: Redis is down, no
// probe is under way, and the last began at least every ago. It marks
// the probe begun; probed ends it.
func (h *health) probeDue(every time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.down || h.probing {
		return false
	}
	if now := time.Now(); now.Sub(h.lastTry) >= every {
		h.probing, h.lastTry = true, now
		return true
	}
	return false
}

// probed ends a probe; the next may begin a retry period after this one
// ended, so a server that stays silent is asked once per period, not
// once per call timeout.
func (h *health) probed() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.probing, h.lastTry = false, time.Now()
}

// failed records a failed call; it reports whether Redis just went down
// (for a warning, once per outage).
func (h *health) failed(err error) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastError = err
	if h.down {
		return false
	}
	h.down, h.since, h.lastTry = true, time.Now(), time.Now()
	return true
}

// answered records a call Redis answered, with the processes it counted;
// it returns how long Redis was down when it just came back, else 0.
func (h *health) answered(procs int) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if procs > 0 {
		h.procs = procs
	}
	if !h.down {
		return 0
	}
	h.down = false
	return max(time.Since(h.since), time.Nanosecond)
}

// share returns how many processes share the limits: as Redis last
// counted them, else guess (Options.Processes), else 1.
func (h *health) share(guess int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.procs > 0 {
		return h.procs
	}
	return max(guess, 1)
}
