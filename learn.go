package sluice

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// learned holds the limits a Gate learns from the API's rate-limit
// headers. They sit beside the user's limits, so a learned value can only
// ever tighten what the user set, and they start with no limit.
type learned struct {
	requests RateLimiter
	tokens   [3]TokenBudget // indexed by TokenKind

	mu       sync.Mutex // serialises learning
	maxPause time.Duration
	// seen, by quota (requests, then by TokenKind), is the longest reset
	// (plus the latency it was read after) of a response whose reset
	// refuted the minute the quota's headers implied (refutesMinute); 0
	// while none has. The window is at least that long, so the limit per
	// seen is the fastest pace that can hold beyond the reset; and, the
	// window being shorter than a minute, a response of that quota with
	// nothing remaining says it is spent until its reset, not that the
	// pace should fall back to a minute's. Negative once more than 1%
	// (and at least two) of the calls admitted since the first
	// refutation (refutedAt, since the gate's epoch plus 1ns; admitted
	// then, refutedAdmitted) were throttled (refutedThrottled): the
	// headers were not a short window's but a minute's enforced in short
	// slices (OpenAI and Anthropic say they may enforce a minute's limit
	// per second), whose reset refutes the minute as well, and the minute
	// stands for good.
	seen             [4]time.Duration
	refutedAt        time.Duration
	refutedAdmitted  int64
	refutedThrottled int64
	// generic is what the generic headers said of their window
	// (learn_generic.go); nil until they said a limit. A pointer, in
	// place of the padding that kept the gate's stripes on lines of
	// their own.
	generic *genericWindow

	// When the first admissions, made before anything was learned, were
	// made (see unpacedStarts): how many there were and, for the first
	// unpacedKept, the time since the gate's epoch plus 1ns (0: being
	// written).
	unpaced   atomic.Int64
	unpacedAt [unpacedKept]atomic.Int64
}

// unpacedKept is how many admissions before the first learning a gate
// keeps the times of. A gate learns from its first response, so before
// it only the first ceiling's worth of calls are admitted (an adaptive
// ceiling starts at 8 at most); a gate whose API never says its limits
// stops noting after these, at the cost of an atomic load an admission.
// With their count they fill four cache lines, so that the gate's
// striped counters stay on lines of their own.
const unpacedKept = 31

// noteUnpaced records an admission at (since the gate's epoch) that the
// learned limits did not see. Safe for concurrent use.
func (l *learned) noteUnpaced(at time.Duration) {
	if l.unpaced.Load() >= unpacedKept {
		return
	}
	if i := l.unpaced.Add(1) - 1; i < unpacedKept {
		l.unpacedAt[i].Store(int64(at) + 1)
	}
}

// unpacedStarts returns the start times of the last n of the m
// admissions the learned limits did not see: those whose time was kept,
// oldest first, and how many more there are whose time was not (beyond
// unpacedKept, or being written), which are taken to start now, the
// latest they can have.
func (g *Gate) unpacedStarts(m, n int64) (kept []time.Time, more int64) {
	kept = make([]time.Time, 0, unpacedKept)
	for i := range min(g.learned.unpaced.Load(), unpacedKept) {
		if at := g.learned.unpacedAt[i].Load(); at > 0 {
			kept = append(kept, g.epoch.Add(time.Duration(at-1)))
		}
	}
	slices.SortFunc(kept, time.Time.Compare)
	more = max(m-int64(len(kept)), 0)
	if more >= n {
		return nil, n
	}
	return kept[max(int64(len(kept))-(n-more), 0):], more
}

func (l *learned) init(maxPause time.Duration) {
	l.maxPause = maxPause
	for k := range l.tokens {
		l.tokens[k].kind = TokenKind(k)
	}
}

func (l *learned) limits() []Limit {
	return []Limit{&l.requests, &l.tokens[AllTokens], &l.tokens[InputTokens], &l.tokens[OutputTokens]}
}

// LearnedRate returns the request rate the gate learned from the API's
// headers, or from its 429s when it sends no headers of its request limit
// (learn_throttle.go; with shared limits, also one another process
// learned so, which the gate follows: learn_shared.go), or the zero Rate
// when it has learned none.
func (g *Gate) LearnedRate() Rate { return g.learned.requests.Rate() }

// learn applies what a response's headers said:
//
//   - A limit per window (Anthropic's and OpenAI's per-minute limits, an
//     IETF policy) paces calls evenly at that rate, with a margin (see
//     apiSafe).
//   - Without a window, the remaining quota is spread until the reset,
//     counting the calls already in flight against it. So too, when it is
//     faster, for a minute the headers only implied (Anthropic's,
//     OpenAI's) that their reset refutes (headers_window.go). A generic
//     limit whose whole-second resets proved its window
//     (learn_generic.go) is paced per that window when that is faster,
//     and its last call's nothing remaining pauses nothing.
//   - A throttled or overloaded call pauses the whole gate for the
//     Retry-After; without one, a quota at zero whose window is unknown
//     pauses it until that quota's reset, whatever the call's result.
//     Pauses are capped at the gate's maximum.
//
// An API whose headers never speak of requests is paced from its 429s
// alone (learn_throttle.go), which Permit.Done learns from after this.
func (g *Gate) learn(o Outcome) { g.learnFrom(o, 0) }

// learnWhileInFlight is learn for a call whose Permit is not done yet (the
// transport learns from a 2xx's headers before its body is read). The API
// has already counted that call in what remains, so it is not counted
// again as in flight.
func (g *Gate) learnWhileInFlight(o Outcome) { g.learnFrom(o, 1) }

// learnFrom is learn with self of the calls in flight being the one that
// reported o.
func (g *Gate) learnFrom(o Outcome, self int64) {
	info := o.RateLimit
	g.learning.Store(true) // before any rate is set: admissions from now on ask the learned limits
	inFlight := max(g.admittedSoFar()-g.completedSoFar()-self, 0)
	g.learned.mu.Lock()
	maxPause := g.learned.maxPause
	relearned := false

	if info.Requests.said() {
		g.headersPace() // the headers pace requests, not 429s alone
	}
	quotas := [4]Quota{info.Requests, info.Tokens, info.InputTokens, info.OutputTokens}
	spent := [4]bool{}
	if o.Class == ClassThrottled && !o.ConcurrencyLimited && g.learned.refutedAt > 0 &&
		!time.Now().Add(-max(o.Latency, 0)).Before(g.epoch.Add(g.learned.refutedAt-1)) {
		g.learned.refutedThrottled++
	}
	if n := g.learned.refutedThrottled; n >= 2 && n*100 > g.admittedSoFar()-g.learned.refutedAdmitted {
		for k := range g.learned.seen {
			if g.learned.seen[k] > 0 {
				g.learned.seen[k] = -1
			}
		}
	}
	for k, q := range quotas {
		if g.learned.seen[k] < 0 {
			quotas[k].resetGrain = 0 // the minute stands
			continue
		}
		if refutesMinute(q, o.Latency) {
			if g.learned.refutedAt == 0 {
				g.learned.refutedAt = min(time.Since(g.epoch), math.MaxInt64-1) + 1
				g.learned.refutedAdmitted = g.admittedSoFar()
			}
			g.learned.seen[k] = max(g.learned.seen[k], min(q.Reset+max(o.Latency, 0), q.Window))
			quotas[k].seen = g.learned.seen[k]
		}
		// Nothing remaining, or a reset already past, says nothing of
		// the pace of a window known to be short.
		spent[k] = g.learned.seen[k] > 0 && q.Window == time.Minute && (q.Remaining == 0 || q.Reset == 0)
	}

	r, ok := pace(quotas[0], inFlight, o.Latency)
	window := g.learned.noteGeneric(quotas[0], time.Since(g.epoch), o, g.admittedSoFar())
	r, ok = windowPace(quotas[0], window, r, ok)
	if r = slicedSafe(r); ok && !spent[0] && r != g.learned.requests.Rate() {
		first := g.learned.requests.Rate().IsZero()
		g.learned.requests.SetRate(r)
		relearned = true
		if q := info.Requests; first && !r.IsZero() && q.Limit > 0 && q.Window > 0 {
			// The calls sent before anything was known count against the
			// API's window too: charge them (at most one window's worth),
			// so the first window is not overfilled. The API's own count
			// cannot say: it was taken when this call arrived, before
			// the others. They are charged when they started, as if
			// the pace had been known then: charged now, the first
			// calls of a batch (all started at once, a round trip ago)
			// held the next ones back a round trip they had already
			// waited, and a given rate's calls, paced already, were
			// paced twice (issue 15: 20-25ms of a 10s batch). This
			// takes them to reach the API within networkJitter of
			// their start, as every paced call must; charged now, a
			// first call whose connection took up to a few intervals
			// longer to open than the others' was covered too.
			from := g.learned.requests.timeline() // before the count: a call admitted since is charged twice, not missed
			m := g.admittedSoFar()
			kept, more := g.unpacedStarts(m, min(m, q.Limit))
			g.learned.requests.delayTo(paced(kept, more, time.Now(), r.Interval()), from)
		}
	}
	for k, q := range quotas[1:] {
		if r, ok := pace(q, 0, o.Latency); ok && !spent[k+1] && r != g.learned.tokens[k].Rate() {
			g.learned.tokens[k].SetRate(r)
			relearned = true
		}
	}

	var pause time.Duration
	throttled := o.Class == ClassThrottled || o.Class == ClassOverloaded
	if throttled && info.HasRetryAfter {
		pause = info.RetryAfter
	} else {
		for k, q := range quotas {
			// With a known window the pace already keeps the quota: at
			// full use a sliding window always reads zero remaining. A
			// minute a reset refuted is no known window; a generic
			// quota's proven window is one, unless the call was refused.
			if q.Remaining == 0 && q.Reset > 0 && (q.Window == 0 && (k > 0 || window == 0 || throttled) || spent[k]) {
				pause = max(pause, q.Reset)
			}
		}
	}
	var share Limits
	if relearned && g.shared != nil {
		share = g.learned.asLimits()
	}
	g.learned.mu.Unlock()
	// Network calls of shared limits are made holding no lock.
	if relearned && g.shared != nil {
		g.shareLearned(share)
	}
	if pause > 0 {
		g.PauseUntil(time.Now().Add(min(pause, maxPause)))
	}
}

// paced returns when the unit after starts (oldest first) and more units
// starting at now may start, at one unit per interval with a burst of 1:
// each start waits for the one before it to be an interval past. The
// zero Time when there are none.
func paced(starts []time.Time, more int64, now time.Time, interval time.Duration) time.Time {
	var next time.Time
	for _, s := range starts {
		if s.After(next) {
			next = s
		}
		next = next.Add(interval)
	}
	if more > 0 {
		if now.After(next) {
			next = now
		}
		next = next.Add(time.Duration(min(more, int64(maxSpan)/max(int64(interval), 1))) * interval)
	}
	return next
}

// refutesMinute reports whether q's reset refutes the minute its headers
// implied (headers_window.go) by more than the latency it was read after.
func refutesMinute(q Quota, latency time.Duration) bool {
	return q.resetGrain > 0 && q.Reset+q.resetGrain+max(latency, 0) < refillTime(q)
}

// networkJitter is how much the network may compress the gap between two
// arrivals at the API that apiSafe's margin tolerates, beyond the timer lag
// a Gate forgives (maxLate); maxMargin is the two together, what apiSafe
// widens every period by. A burst-1 rate's forgiven lag compresses no
// window (its ring, ratering.go), so there the network has all of it;
// token budgets and bursty rates still spend maxLate of it on lag.
const (
	networkJitter = 4 * time.Millisecond
	maxMargin     = networkJitter + maxLate
)

// asLimits returns what was learned as Limits (zero rates: nothing
// learned), for Shared.Learn. l.mu is held.
func (l *learned) asLimits() Limits {
	return Limits{
		Rate: l.requests.Rate(), Tokens: l.tokens[AllTokens].Rate(),
		InputTokens: l.tokens[InputTokens].Rate(), OutputTokens: l.tokens[OutputTokens].Rate(),
	}
}

// pace returns the rate a quota allows, if it says enough to tell. A rate
// faster than one unit per nanosecond (counts up to 1e12 over a reset of a
// second or a window of a minute) is no limit: no limiter can pace to it,
// and no call could ever be held to it. Nothing a header says may make the
// gate panic.
//
// A minute the headers only implied (Anthropic's, OpenAI's) that their
// reset refutes (headers_window.go) is not trusted to slow the gate: the
// pace is the faster of the minute's and what spreads the remaining
// quota until the reset, which holds whatever the window: what remains
// is there until then. The reset is read latency after the API wrote
// it, so a bucket's reset looks that much sooner: it refutes the minute
// only by more than latency.
func pace(q Quota, inFlight int64, latency time.Duration) (Rate, bool) {
	var r Rate
	switch {
	case q.Limit > 0 && q.Window > 0:
		r = apiSafe(Rate{N: float64(q.Limit), Per: q.Window})
		if refutesMinute(q, latency) {
			soon := apiSafe(Rate{N: float64(max(q.Remaining-inFlight, 1)), Per: q.Reset})
			if q.seen > 0 {
				if most := apiSafe(Rate{N: float64(q.Limit), Per: q.seen}); most.PerSec() < soon.PerSec() {
					soon = most
				}
			}
			if soon.PerSec() > r.PerSec() {
				r = soon
			}
		}
	case q.Remaining > 0 && q.Reset > 0:
		n := max(q.Remaining-inFlight, 1)
		r = apiSafe(Rate{N: float64(n), Per: q.Reset})
	default:
		return Rate{}, false
	}
	if r.validate() != nil {
		return Rate{}, true
	}
	return r, true
}

// slicedSafe returns r, a request rate apiSafe has slowed, slowed
// further when its window is longer than a second and lets more than one
// call a second through: each second of the window then keeps apiSafe's
// margin (0.6%), not the window as a whole (0.01% of a minute). APIs
// enforce a minute's request limit in slices of a second (OpenAI says so:
// 600 a minute is then 10 in any second), and 600/min paced with a
// minute's 6ms put 10 calls in 1000.0ms: a strict per-second slice
// refused 7% of the calls the proxy sent at a pace learned from
// per-minute headers (outside review). Token budgets keep apiSafe's
// margin alone: a call's tokens come in lumps that no slice could pace.
func slicedSafe(r Rate) Rate {
	window := r.Per - maxMargin // the API's, before apiSafe widened it
	if window <= time.Second || r.N <= window.Seconds() {
		return r
	}
	extra := time.Duration(math.Ceil(window.Seconds())-1) * maxMargin
	if extra < 0 || r.Per > math.MaxInt64-extra {
		return Rate{N: r.N, Per: math.MaxInt64}
	}
	return Rate{N: r.N, Per: r.Per + extra}
}

// apiSafe returns r slowed by a margin for the network between us and the
// API: arrivals there are compressed and reordered by a few milliseconds,
// so a pace met exactly here would break a strict limit there. Every
// period is widened by maxMargin (6ms): the jitter and the timer lag to
// cover are absolute, so a longer window needs no more, and a shorter one
// no less. N+1 starts of a burst-1 rate span at least the widened period
// (the timer lag a Gate forgives compresses no window, see lagRing), which
// leaves all of maxMargin to the network; those of a token budget or a
// bursty rate span at least the widened period less maxLate, which leaves
// networkJitter. The margin costs 0.6% of a second's window and 0.01% of
// a minute's. The period saturates instead of overflowing.
func apiSafe(r Rate) Rate {
	if r.IsZero() {
		return r
	}
	if r.Per > math.MaxInt64-maxMargin {
		return Rate{N: r.N, Per: math.MaxInt64}
	}
	return Rate{N: r.N, Per: r.Per + maxMargin}
}
