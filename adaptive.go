package sluice

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// AdaptiveLimit is a concurrency limit that finds the API's capacity by
// itself. Its ceiling starts at half the top (at most 8, at least the
// floor) and grows while the API is healthy, and shrinks when the API
// pushes back. Starting at the floor would cost a round trip per doubling,
// which for LLM calls taking seconds is a long, slow start.
//
//   - multiplicative decrease: a throttled (429), overloaded (529, 503) or
//     timed-out call halves the ceiling, at most once per round trip (calls
//     admitted before a decrease do not cause another), never below the
//     floor;
//   - a learned top: a 429 that says too many calls are in flight instead
//     lowers the top to one less than were in flight, so the API's
//     concurrency limit is learned rather than probed again and again. The
//     limit may be shared with other clients of the same key and rise when
//     they leave, so after a quiet period (a minute and a few hundred calls
//     without such a 429) the top goes back to its configured value; the
//     ceiling then climbs one per round trip and the next such 429, if
//     any, learns the top again. Probing costs at most one 429 per quiet
//     period;
//   - additive increase: each healthy call adds 1/ceiling, so the ceiling
//     grows by one per round trip; until the first decrease it grows by one
//     per healthy call instead (slow start), doubling each round trip,
//     and a Transport counts a call when its healthy status comes, not
//     when a streamed body ends (headed); when latency, not a decrease,
//     ends slow start, the ceiling grows by its square root per round
//     trip until the first decrease (cautious growth, below);
//   - latency gradient: the ceiling grows only while recent latency (of
//     about the last 16 calls) stays within twice the long-run latency (of
//     the last two minutes or so), both geometric means, and only while
//     the ceiling is actually in use; slow start ends once recent latency
//     is half again the long-run. Comparing like with like matters: LLM latency
//     follows the work (the output's length) and varies tenfold at any
//     load, so a baseline such as the lowest latency ever seen would read
//     that spread as congestion and stop growth far below capacity, while
//     latency rising with the load still lifts the recent mean above the
//     long-run one.
//
// Calls the caller cancelled, and failures that say nothing about load
// (a 404, a 500), are not samples.
//
// An AdaptiveLimit is used through a Gate: NewGate(a) admits calls under
// the ceiling, and Permit.Done feeds each outcome to it. The zero
// AdaptiveLimit has no limit and does not adapt; use NewAdaptiveLimit. An
// AdaptiveLimit is safe for concurrent use; each outcome costs a mutex and
// a logarithm, and no allocation, except at the top, where seven in eight
// healthy outcomes cost an atomic load (topSampling).
type AdaptiveLimit struct {
	sem Semaphore // its limit is the ceiling

	mu         sync.Mutex
	floor, top int // the ceiling's bounds; top may be learned from the API
	configured int // the top given, which a learned top returns to
	ceiling    float64
	slowStart  bool
	// decreased is set by the first decrease: growth is one per round
	// trip from then on (cautiousGrowth).
	decreased    bool
	lastDecrease time.Time
	// slowStarting mirrors slowStart for Permit.responded, which reads it
	// without mu on every successful response.
	slowStarting atomic.Bool

	// Latency, as exponentially weighted means of its logarithm: recent
	// over about recentSamples calls, longRun over about latencyWindow.
	recent, longRun float64
	samples         int       // counted up to latencyWarmUp
	sampledAt       time.Time // the last sample

	// Since the top was last learned from a "concurrent" 429, or last
	// went back to the configured top.
	learnedAt    time.Time
	sinceLearned int

	// The most calls in flight this round and the one before; a round
	// ends after a ceiling's worth of completions.
	peak, prevPeak atomic.Int64
	completions    int

	// atTop is set while the ceiling is at the configured top, with no
	// top learned: Observe then thins the healthy calls' samples
	// (topSampling) without taking mu.
	atTop atomic.Bool
}

// latencyWindow is how far back the long-run latency reaches: a slower
// network, model or mix of work becomes the norm in about this long, while
// latency rising within a few round trips, as when the API queues calls,
// stands out against it.
const latencyWindow = 2 * time.Minute

// latencyWindowCalls caps the long-run latency's reach in calls, for fast
// APIs: it spans latencyWindow or this many calls, whichever is shorter.
// At thousands of calls a second a two-minute mean stays frozen at the
// latency of the first calls, made at the first ceiling or before any
// load. On a busy machine an instant API's latency is then mostly the
// client's and the server's own CPU queue, which grows with the calls in
// flight while the API refuses nothing: growth stopped near twice the
// first ceiling (16 of 64) for minutes, and the callers waited in the
// gate's line instead (issue 15). A thousand calls is still many round
// trips at any ceiling, so a rise within a few round trips, an API
// starting to queue, stands out as before. The price: against a fast API
// that queues without ever refusing, the ceiling now climbs to the top in
// steps, each once the baseline has caught up, instead of over minutes;
// an API that limits concurrency says so with a 429, which bounds the top.
// LLM APIs, at a few calls a second, keep the two-minute window.
const latencyWindowCalls = 1000

// latencyWarmUp is how many first samples make up the long-run latency
// with equal weight, before it moves with time alone.
const latencyWarmUp = 16

// recentSamples is about how many calls the recent latency averages over:
// few enough to see a rise within a round trip at a ceiling of 16 or more,
// and enough that a twentyfold spread of latencies (200ms-4s) moves the
// mean by about 15% (one standard deviation), far from healthyLatency.
const recentSamples = 16

// healthyLatency is how far recent latency may rise above the long-run
// latency before growth stops.
const healthyLatency = 2.0

// slowStartExit is how far recent latency may rise above the long-run
// latency before slow start ends: doubling each round trip outruns
// latency, which tells of a call's load only when it ends.
const slowStartExit = 1.5

// logHealthyLatency and logSlowStartExit are the thresholds in the log
// domain the means are kept in.
var (
	logHealthyLatency = math.Log(healthyLatency)
	logSlowStartExit  = math.Log(slowStartExit)
)

// probeQuiet and probeCalls make the quiet period after which a top
// learned from a "concurrent" 429 goes back to the configured top: both
// must pass. The calls bound probing's cost to one 429 in probeCalls.
const (
	probeQuiet = time.Minute
	probeCalls = 500
)

// maxStart caps where the ceiling starts: a first burst of half of a large
// top would meet an API's concurrency limit all at once, before any
// response could say so; slow start then doubles it each round trip.
const maxStart = 8

// decreaseFactor is what a congestion signal multiplies the ceiling by.
const decreaseFactor = 0.5

// topSampling thins the healthy calls' latency samples while the ceiling
// is at its configured top: one in topSampling is kept, picked by the low
// bits of its latency in nanoseconds (of its admission, for a Gate's
// fast path: finishAt), which follow no pattern in real time (a clock of
// coarser grain keeps more, and synctest's fake time, whose times are
// round, keeps them all).
// At the top nothing can grow and a latency sample is only a baseline for
// after a decrease, which comes from a throttle, an overload or a
// timeout, never thinned; so the samples kept still span the long-run
// window in time, while the calls of a fast API (thousands a second) stop
// taking the limit's mutex, and writing its cache line, one after the
// other from every core (issue 15: about a tenth of the instructions
// the Transport added to each call).
// The recent mean then spans topSampling times as many calls, and the
// long-run one up to topSampling×latencyWindowCalls.
const topSampling = 8

// thinned reports whether o is among the healthy outcomes whose latency
// sample is skipped at the top (topSampling). Finish asks it too, before
// calling Observe: most calls at the top then cost no call of it.
func thinned(o Outcome) bool {
	return healthy(o) && o.Latency%topSampling != 0
}

// NewAdaptiveLimit returns an AdaptiveLimit moving between floor and top,
// starting at half of top (at most 8). Values of floor below 1 mean 1; top
// below floor means floor.
func NewAdaptiveLimit(floor, top int) *AdaptiveLimit {
	floor = max(floor, 1)
	top = max(top, floor)
	start := max(floor, min(top/2, maxStart))
	a := &AdaptiveLimit{floor: floor, top: top, configured: top, ceiling: float64(start), slowStart: true}
	a.slowStarting.Store(true)
	a.sem.SetLimit(start)
	a.noteTop()
	return a
}

// Ceiling returns how many calls may be in flight now.
func (a *AdaptiveLimit) Ceiling() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return int(a.ceiling)
}

// Bounds returns the floor and the top the ceiling moves between now: the
// top is below the configured one while a limit learned from the API
// holds.
func (a *AdaptiveLimit) Bounds() (floor, top int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.floor, a.top
}

// InFlight returns the calls admitted and not yet done.
func (a *AdaptiveLimit) InFlight() int { return a.sem.Held() }

// SetTop changes the highest the ceiling may go, for instance when the
// user changes the concurrency limit. The ceiling is cut to it at once if
// above. A top learned from the API stays while it is lower.
func (a *AdaptiveLimit) SetTop(top int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	learned := a.top < a.configured
	a.configured = max(top, a.floor)
	if learned {
		a.top = min(a.top, a.configured)
	} else {
		a.top = a.configured
	}
	if a.ceiling > float64(a.top) {
		a.setCeiling(float64(a.top))
	}
	a.noteTop()
}

// Observe feeds one finished call, admitted at admitted, to the limit. A
// Gate holding the limit calls it from Permit.Done, so most programs never
// do; call it only to report a call the gate did not see end, as that
// call's outcome would be counted twice otherwise.
func (a *AdaptiveLimit) Observe(admitted time.Time, o Outcome) {
	if thinned(o) && a.atTop.Load() {
		return // thinned at the top (topSampling)
	}
	a.observe(admitted, o)
}

// observe is Observe for an outcome already past the thinning.
func (a *AdaptiveLimit) observe(admitted time.Time, o Outcome) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.top == 0 {
		return // the zero AdaptiveLimit does not adapt
	}
	switch {
	case o.Class == ClassThrottled || o.Class == ClassOverloaded || o.Timeout:
		now := time.Now()
		a.decreased = true
		if o.ConcurrencyLimited {
			// The API named the limit we crossed: it refused with this
			// call among those in flight, so it allows fewer. Keep below
			// that rather than probing it again and again, until a quiet
			// period suggests it may have risen (probe). Each such 429 is
			// a bound of its own, not a halving, so the calls of one round
			// all count: refused in turn, they release their slots in
			// turn, and the top comes down to the limit at once.
			a.lastDecrease = now
			a.endSlowStart()
			a.top = max(a.floor, min(a.top, a.sem.Held()-1))
			a.learnedAt, a.sinceLearned = now, 0
			a.setCeiling(min(a.ceiling, float64(a.top)))
			return
		}
		if admitted.Before(a.lastDecrease) {
			return // it was in flight under the old ceiling: already counted
		}
		a.lastDecrease = now
		a.endSlowStart()
		a.setCeiling(max(float64(a.floor), a.ceiling*decreaseFactor))
	case o.Class == ClassOK && o.Latency > 0:
		// When the latency was measured, to within the body's reading:
		// near enough for the long-run mean's weights and the probe's
		// quiet period, and a clock read fewer on every call.
		now := admitted.Add(o.Latency)
		if admitted.IsZero() {
			now = time.Now() // Observe called without the admission's time
		}
		a.sample(now, o.Latency)
		if a.top < a.configured {
			a.probe(now)
		}
		if a.completions++; float64(a.completions) >= a.ceiling {
			a.prevPeak.Store(a.peak.Load())
			a.peak.Store(int64(a.sem.Held()))
			a.completions = 0
		}
		if float64(max(a.peak.Load(), a.prevPeak.Load())) < a.ceiling/2 {
			return // the ceiling is not what limits: no evidence it can grow
		}
		if rise := a.recent - a.longRun; rise > logHealthyLatency {
			return // latency rises with the load: the API is queueing
		} else if rise > logSlowStartExit {
			a.endSlowStart()
		}
		step := 1 / float64(int(a.ceiling))
		if !a.decreased {
			step = cautiousGrowth(a.ceiling)
		}
		if a.slowStart {
			step = 1
			if o.headed {
				step = 0 // it grew the ceiling when its headers came (headed)
			}
		}
		a.setCeiling(min(float64(a.top), a.ceiling+step))
	}
}

// cautiousGrowth is what a healthy call adds to the ceiling c once latency
// has ended slow start and before any decrease: the square root of c per
// round trip, between slow start's doubling and the one per round trip
// that follows a decrease.
//
// Latency ends slow start early when the client's own CPU is the queue:
// against a fast API on a busy machine a call's latency is mostly the wait
// for a core, in this process or the server's, and grows with the calls
// in flight (Little's law) although the API refuses nothing. A program
// that started gently (one call at a time) and then opened up to 64
// workers left slow start at 12 and climbed one per round trip, 4,000
// calls to reach 64 while its workers waited in the gate's line (issue
// 15, bench/cmd/transportbench); at the square root, 1,500. Nothing that
// answers congestion changes: latency twice the long-run still stops
// growth, and a 429, a 529 or a timeout still halves the ceiling and
// makes growth one per round trip from then on, as the probing after a
// learned top is.
func cautiousGrowth(c float64) float64 {
	return math.Sqrt(c) / float64(int(c))
}

// endSlowStart ends slow start. a.mu is held.
func (a *AdaptiveLimit) endSlowStart() {
	a.slowStart = false
	a.slowStarting.Store(false)
}

// headed counts a call whose response headers came back healthy, before
// its body was read, as the growth its end would give in slow start; it
// reports whether it did, so that the end does not count it again.
//
// Slow start grew the ceiling by one per call that ended, and a streamed
// answer ends when its last token does: with 3-second streams the ceiling
// took 3 s to go from 8 to 16 and 9 s to reach 50, while the API had
// taken every call from the first (100 streams at 9/s: 19.9 s against
// 15.2 s with the ceiling fixed; outside review). A 2xx status is the
// API saying it took the call, which is what slow start waits for; an
// overload still answers with its status, before any body. The latency
// that ends slow start, and that later growth needs, is still the whole
// call's.
func (a *AdaptiveLimit) headed() bool {
	if !a.slowStarting.Load() || a.atTop.Load() {
		// At the top there is nothing to grow: no mutex, as every call of
		// a fast API would take it, one after the other from every core,
		// when slow start reached the top without a signal to end it.
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.slowStart || a.top == 0 {
		return false
	}
	if inUse := max(a.peak.Load(), a.prevPeak.Load(), int64(a.sem.Held())); float64(inUse) < a.ceiling/2 {
		return false // the ceiling is not what limits: no evidence it can grow
	}
	a.setCeiling(min(float64(a.top), a.ceiling+1))
	return true
}

// sample adds latency d, measured at now, to the recent and long-run
// means. a.mu is held.
func (a *AdaptiveLimit) sample(now time.Time, d time.Duration) {
	l := math.Log(float64(d))
	if a.samples <= latencyWarmUp {
		a.samples++
	}
	if a.samples == 1 {
		a.recent, a.longRun, a.sampledAt = l, l, now
		return
	}
	// The first samples weigh equally in both means, so neither rests on
	// the first call alone.
	warm := 0.0
	if a.samples <= latencyWarmUp {
		warm = 1 / float64(a.samples)
	}
	a.recent += (l - a.recent) * max(warm, 1.0/recentSamples)
	// The long-run mean weighs samples by the time they cover, so that it
	// spans latencyWindow at any call rate up to latencyWindowCalls per
	// window; one sample after an idle spell weighs no more than a recent
	// one would.
	cover := float64(now.Sub(a.sampledAt)) / float64(latencyWindow)
	cover = min(max(cover, 1.0/latencyWindowCalls), 1.0/recentSamples)
	a.longRun += (l - a.longRun) * max(warm, cover)
	a.sampledAt = now
}

// probe returns the top to the configured one after a quiet period
// without a "concurrent" 429: the API's limit may have been shared with
// clients that have left. The ceiling still climbs by one per round trip,
// so the limit, if unchanged, costs one 429 to learn again. a.mu is held.
func (a *AdaptiveLimit) probe(now time.Time) {
	if a.sinceLearned++; a.sinceLearned < probeCalls || now.Sub(a.learnedAt) < probeQuiet {
		return
	}
	a.top = a.configured
	a.learnedAt, a.sinceLearned = now, 0
	a.noteTop()
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
	a.noteTop()
}

// noteTop keeps atTop true to the ceiling and the top. a.mu is held.
func (a *AdaptiveLimit) noteTop() {
	a.atTop.Store(int(a.ceiling) >= a.configured && a.top == a.configured)
}

// Take implements Limit: it takes a slot under the ceiling.
func (a *AdaptiveLimit) Take(c Cost, now time.Time, late time.Duration) (time.Duration, int64) {
	if a.take(c) {
		return 0, 0
	}
	return waitForChange, 0
}

// take is Take for a Gate that calls it directly (Gate.sole): it reports
// whether it took a slot. A Semaphore's Take marks nothing and waits
// only for a change, so nothing else is to say.
func (a *AdaptiveLimit) take(c Cost) bool {
	n := c.requests()
	held, ok, known := a.sem.tryFastHeld(n)
	if !known {
		if !a.sem.TryAcquire(n) {
			return false
		}
		held = a.sem.Held()
	} else if !ok {
		return false
	}
	for p := a.peak.Load(); int64(held) > p && !a.peak.CompareAndSwap(p, int64(held)); p = a.peak.Load() {
	}
	return true
}

// Untake implements Limit: it gives back what Take took.
func (a *AdaptiveLimit) Untake(c Cost, mark int64) { a.sem.Untake(c, mark) }

// Finish implements Limit: it feeds o to the ceiling (Observe) and releases
// the slot.
func (a *AdaptiveLimit) Finish(c Cost, admitted time.Time, o Outcome) {
	if !thinned(o) || !a.atTop.Load() {
		a.Observe(admitted, o)
	}
	a.sem.Release(c.requests()) // Semaphore.Finish, without passing o on again
}

// finishAt is Finish for a Gate holding the limit alone (Gate.sole), with
// the admission as g keeps it: the Time is built only for an outcome that
// Observe reads. Its healthy calls are thinned at the top by the low bits
// of their admission (sampledAt), not of their latency: the Transport
// then knows at the response whether the latency will be read, and skips
// the clock read for the seven in eight that will not (Permit.latencyUnread).
// An outcome the Transport left unmeasured is no sample, even if the
// ceiling has left the top since.
func (a *AdaptiveLimit) finishAt(c Cost, g *Gate, since time.Duration, o Outcome) {
	if !o.unmeasured && (!healthy(o) || sampledAt(since) || !a.atTop.Load()) {
		a.observe(g.at(since), o)
	}
	a.sem.Release(c.requests())
}

// healthy reports whether o is a healthy outcome, the kind thinned at the
// top (topSampling).
func healthy(o Outcome) bool { return o.Class == ClassOK && !o.Timeout }

// sampledAt reports whether a healthy call admitted at since (see
// Gate.clock) is among the one in topSampling whose latency is a sample
// at the top of the ceiling.
func sampledAt(since time.Duration) bool { return since%topSampling == 0 }

// Changed implements Limit: the channel is closed on the next release or
// change of ceiling.
func (a *AdaptiveLimit) Changed() <-chan struct{} { return a.sem.Changed() }

// notifyOnChange implements changeNotifier, as Changed does.
func (a *AdaptiveLimit) notifyOnChange(ch chan struct{}) { a.sem.notifyOnChange(ch) }
