package sluice

import (
	"sync"
	"sync/atomic"
	"time"
)

// AdaptiveLimit is a concurrency limit that finds the API's capacity by
// itself. Its ceiling starts at half the top (at most 8, at least the
// floor) and
// grows while the API is healthy, and shrinks when the API pushes back.
// Starting at the floor would cost a round trip per doubling, which for
// LLM calls taking seconds is a long, slow start.
//
//   - multiplicative decrease: a throttled (429), overloaded (529, 503) or
//     timed-out call halves the ceiling, at most once per round trip (calls
//     admitted before a decrease do not cause another), never below the
//     floor; a 429 that says too many calls are in flight instead lowers
//     the top to one less than were in flight, so the API's concurrency
//     limit is learned rather than probed again and again;
//   - additive increase: each healthy call adds 1/ceiling, so the ceiling
//     grows by one per round trip; until the first decrease it grows by one
//     per healthy call instead (slow start), doubling each round trip;
//   - latency gradient: the ceiling grows only while recent latency stays
//     within twice the baseline (the lowest latency seen, which drifts up
//     slowly so a changed network is learned), and only while the ceiling
//     is actually in use.
//
// Calls the caller cancelled, and failures that say nothing about load
// (a 404, a 500), are not samples.
//
// The zero AdaptiveLimit has no limit and does not adapt; use
// NewAdaptiveLimit. An AdaptiveLimit is safe for concurrent use.
type AdaptiveLimit struct {
	sem Semaphore // its limit is the ceiling

	mu           sync.Mutex
	floor, top   int // the ceiling's bounds
	ceiling      float64
	slowStart    bool
	baseline     time.Duration // lowest latency seen, drifting up
	baselineAt   time.Time     // when baseline last moved
	recent       time.Duration // moving average of latency
	lastDecrease time.Time

	// The most calls in flight this round and the one before; a round
	// ends after a ceiling's worth of completions.
	peak, prevPeak atomic.Int64
	completions    int
}

// baselineDrift is how long a latency above the baseline takes to become
// the new baseline (exponentially), so that a slower network or model is
// learned, but a brief slowdown is not.
const baselineDrift = time.Minute

// healthyLatency is how far recent latency may rise above the baseline
// before growth stops.
const healthyLatency = 2.0

// maxStart caps where the ceiling starts: a first burst of half of a large
// top would meet an API's concurrency limit all at once, before any
// response could say so; slow start then doubles it each round trip.
const maxStart = 8

// decreaseFactor is what a congestion signal multiplies the ceiling by.
const decreaseFactor = 0.5

// NewAdaptiveLimit returns an AdaptiveLimit moving between floor and top,
// starting at half of top. Values of floor below 1 mean 1; top below floor
// means floor.
func NewAdaptiveLimit(floor, top int) *AdaptiveLimit {
	floor = max(floor, 1)
	top = max(top, floor)
	start := max(floor, min(top/2, maxStart))
	a := &AdaptiveLimit{floor: floor, top: top, ceiling: float64(start), slowStart: true}
	a.sem.SetLimit(start)
	return a
}

// Ceiling returns how many calls may be in flight now.
func (a *AdaptiveLimit) Ceiling() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return int(a.ceiling)
}

// Bounds returns the floor and the top the ceiling moves between.
func (a *AdaptiveLimit) Bounds() (floor, top int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.floor, a.top
}

// InFlight returns the calls admitted and not yet done.
func (a *AdaptiveLimit) InFlight() int { return a.sem.Held() }

// SetTop changes the highest the ceiling may go, for instance when the
// user changes the concurrency limit. The ceiling is cut to it at once if
// above.
func (a *AdaptiveLimit) SetTop(top int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.top = max(top, a.floor)
	if a.ceiling > float64(a.top) {
		a.setCeiling(float64(a.top))
	}
}

// Observe feeds one finished call to the limit. Gates call it through
// Permit.Done; call it yourself only when using the limit on its own.
func (a *AdaptiveLimit) Observe(admitted time.Time, o Outcome) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.top == 0 {
		return // the zero AdaptiveLimit does not adapt
	}
	switch {
	case o.Class == ClassThrottled || o.Class == ClassOverloaded || o.Timeout:
		if admitted.Before(a.lastDecrease) {
			return // it was in flight under the old ceiling: already counted
		}
		a.lastDecrease = time.Now()
		a.slowStart = false
		if o.ConcurrencyLimited {
			// The API named the limit we crossed: it refused with this
			// call among those in flight, so it allows fewer. Keep below
			// that from now on rather than probing it again and again.
			a.top = max(a.floor, min(a.top, a.sem.Held()-1))
			a.setCeiling(min(a.ceiling, float64(a.top)))
			return
		}
		a.setCeiling(max(float64(a.floor), a.ceiling*decreaseFactor))
	case o.Class == ClassOK && o.Latency > 0:
		a.sample(o.Latency)
		if a.completions++; float64(a.completions) >= a.ceiling {
			a.prevPeak.Store(a.peak.Load())
			a.peak.Store(int64(a.sem.Held()))
			a.completions = 0
		}
		if float64(max(a.peak.Load(), a.prevPeak.Load())) < a.ceiling/2 {
			return // the ceiling is not what limits: no evidence it can grow
		}
		if float64(a.recent) > healthyLatency*float64(a.baseline) {
			return
		}
		step := 1 / float64(int(a.ceiling))
		if a.slowStart {
			step = 1
		}
		a.setCeiling(min(float64(a.top), a.ceiling+step))
	}
}

// sample updates the latency baseline and moving average. a.mu is held.
func (a *AdaptiveLimit) sample(d time.Duration) {
	now := time.Now()
	if a.baseline == 0 || d < a.baseline {
		a.baseline = d
	} else {
		drift := min(float64(now.Sub(a.baselineAt))/float64(baselineDrift), 1)
		a.baseline += time.Duration(float64(d-a.baseline) * drift)
	}
	a.baselineAt = now
	if a.recent == 0 {
		a.recent = d
	} else {
		a.recent += (d - a.recent) / 8
	}
}

// setCeiling moves the ceiling and the semaphore's limit with it. a.mu is
// held.
func (a *AdaptiveLimit) setCeiling(c float64) {
	old := int(a.ceiling)
	if whole := float64(int(c + 1e-9)); whole > c {
		c = whole // n steps of 1/n add up to a hair under 1
	}
	a.ceiling = c
	if int(c) != old {
		a.sem.SetLimit(int(c))
	}
}

func (a *AdaptiveLimit) take(c Cost, late time.Duration) (time.Duration, int64) {
	wait, mark := a.sem.take(c, late)
	if wait == 0 {
		held := int64(a.sem.Held())
		for p := a.peak.Load(); held > p && !a.peak.CompareAndSwap(p, held); p = a.peak.Load() {
		}
	}
	return wait, mark
}

func (a *AdaptiveLimit) untake(c Cost, mark int64) { a.sem.untake(c, mark) }

func (a *AdaptiveLimit) done(c Cost, admitted time.Time, o Outcome) {
	a.Observe(admitted, o)
	a.sem.done(c, admitted, o)
}

func (a *AdaptiveLimit) changed() <-chan struct{} { return a.sem.changed() }
