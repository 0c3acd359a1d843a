package sluice

import (
	"sync"
	"time"
)

// The margin apiSafe puts on a given rate (6 ms a period) covers the
// network's jitter between this process and a quiet API. A loaded
// machine, or an API whose clock stamps arrivals late, compresses more:
// outside reviews saw 11 arrivals of a 10/s limit inside 998 ms, and a
// strict API refused one call in a few hundred. Rather than pay a wide
// margin everywhere, a gate made by Limits.NewGate learns it: each 429
// that says the rate (not the concurrency) was exceeded widens its rate's
// period by marginStep, up to marginCap of the period more. Quiet APIs
// keep the narrow margin; one that refuses gets a wider one, and a gate
// forgotten once idle starts narrow again.
//
// Why not narrower, now that a Transport dates a window's calls at their
// write and charges a rate's late ones again (transport_sent.go): the
// margin is not spent before the write. bench/cmd/feedback, given 200/s
// on loopback under load (Dec 3, load 8-20), found the tightest 201
// admissions and the tightest 201 writes alike (1.0053/1.0048 s,
// 1.0142/1.0142 s, 1.0144/1.0144 s), and the tightest 201 arrivals at the
// API up to 7.5 ms tighter than the writes (1.0144 s written, 1.0069 s
// arrived): the server side of the network, not the sender, compresses.
// A quiet run of the same API saw 201 arrivals in 1.0001 s (Dec 3 17:27),
// all but 0.1 ms of the 6 ms used. A window's 2 ms for timer lag
// (maxLate), which it does not forgive, is the only part the way to the
// API does not need by design, and that way has used more than the
// other 4 ms: the margin stays.
//
// Until issue 15's ring, a rate's margin lost those 2 ms too: a Gate
// forgives its timer's lag (maxLate), and a unit late one window and its
// successor on time the next put 201 admissions of 200/s in 1.0042 s,
// then the server side squeezed the arrivals into 0.9999 s and a 429
// cost a second's cool-down (a round 1.115× the minimum, not 1.008×). A
// burst-1 RateLimiter now holds each start to N intervals after the one N
// before it (ratering.go): its N+1 admissions span the whole widened
// period, and all 6 ms are the network's, as a window's always were.

// A window given as Limits is widened alike: a window opens a batch of
// calls at once at each boundary, and every millisecond the network
// squeezes between two batches broke a strict window (an outside review:
// 11-13 arrivals of a 10/1s window in one second, three runs of three).

// marginStep is how much one rate 429 widens a gate's period; marginCap
// bounds the widening as a fraction of the given period.
const (
	marginStep = 2 * time.Millisecond
	marginCap  = 0.01
)

// learnedMargin widens the given rate and window of one gate after its
// 429s. The zero value widens nothing (a gate built from limits by
// NewGate).
type learnedMargin struct {
	mu          sync.Mutex
	rate        *RateLimiter   // the given rate's limiter; nil: none
	given       Rate           // as apiSafe made it
	window      *SlidingWindow // the given window; nil: none
	givenWindow Rate
	// shared is the given rate of a gate whose rate and window are kept
	// in a Store (Limits.Store), in calls a second, the tighter of the
	// two as the store is handed them; 0: none. Such a gate has no
	// period of its own to widen, but its first 429 is forgiven as a
	// gate's in memory is, and its learner knows what was given (an
	// outside review: a shared gate's every 429 taught a pace, read from
	// this process's calls alone, far below the given rate).
	shared float64
	steps  int // widenings so far
}

// widen adds marginStep to the rate's and the window's periods, each up
// to marginCap of it. It reports whether this was the first widening: a
// gate without a given rate or window, or one widened before, says
// false. Safe for concurrent use.
func (m *learnedMargin) widen() (first bool) {
	if m.rate == nil && m.window == nil {
		if m.shared == 0 {
			return false
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		m.steps++
		return m.steps == 1
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	grew := false
	next := time.Duration(m.steps+1) * marginStep
	if m.rate != nil {
		if extra := widened(m.given.Per, next); extra > widened(m.given.Per, next-marginStep) {
			m.rate.SetRate(Rate{N: m.given.N, Per: m.given.Per + extra})
			grew = true
		}
	}
	if m.window != nil {
		if extra := widened(m.givenWindow.Per, next); extra > widened(m.givenWindow.Per, next-marginStep) {
			m.window.setWindow(m.givenWindow.Per + extra)
			grew = true
		}
	}
	if !grew {
		return false
	}
	m.steps++
	return m.steps == 1
}

// sharedGiven returns what learnedMargin.shared keeps of safe, the
// limits a Store is handed: the tighter of its rate and window, in calls
// a second; 0 when it has neither.
func sharedGiven(safe Limits) float64 {
	r := safe.Rate.PerSec()
	if w := safe.Window.PerSec(); w > 0 && (r == 0 || w < r) {
		r = w
	}
	return r
}

// widened returns the widening of a period per by extra, capped at
// marginCap of it.
func widened(per, extra time.Duration) time.Duration {
	return min(extra, time.Duration(float64(per)*marginCap))
}

// perSecond returns the tighter of the given rate and window as they now
// stand, widened, in calls a second; 0 when the gate has neither.
func (m *learnedMargin) perSecond() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.shared > 0 {
		return m.shared
	}
	r := 0.0
	if m.rate != nil {
		r = m.rate.Rate().N / m.rate.Rate().Per.Seconds()
	}
	if m.window != nil {
		w := m.window.Rate()
		if wr := w.N / w.Per.Seconds(); r == 0 || wr < r {
			r = wr
		}
	}
	return r
}
