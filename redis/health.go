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
	procs     int // processes seen sharing, from the last answer
	lastError error
}

func (h *health) isDown() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.down
}

// shouldTry reports whether to ask Redis now: always when it is up, and
// once per retry period when it is down (that caller probes for all).
func (h *health) shouldTry(every time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.down {
		return true
	}
	if now := time.Now(); now.Sub(h.lastTry) >= every {
		h.lastTry = now
		return true
	}
	return false
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

// share returns how many processes share the limits, 1 when unknown.
func (h *health) share() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return max(h.procs, 1)
}
