package sluice

import (
	"math"
	"sync/atomic"
	"time"
)

// An API that limits its rate with 429 alone, sending no rate-limit
// headers, says nothing a pace can be read from: a gate paused for each
// Retry-After and then burst again into the next 429, a throttled call
// in every few, or in almost every one without a Retry-After. What it
// does say, by which calls it took, is its goodput: the calls it took
// between two 429s, over the time from the end of one cool-down to the
// end of the next, is what it sustains. For a window of L calls per W,
// fixed or sliding, that is about L/W; for a token bucket the first burst
// reads high and the next cycles read its refill. A first 429's
// Retry-After in whole seconds says W itself (wholeWindow): the first
// burst is read over it, not over the rounded-up cool-down. The gate
// paces to that, a margin below, evenly spaced, and climbs back when it
// read low.
//
// The rate moves as TCP's congestion window does, with CUBIC's memory:
//
//   - one decrease per cycle: a 429 of a call admitted before the last
//     decrease was sent at the old pace and says nothing of the new one;
//   - a decrease takes at most half the rate (a cycle too short to count
//     much cannot collapse it) and leaves at least one call per cycle;
//   - the rate a 429 came at is remembered (top, CUBIC's W_max): the rate
//     climbs back, half the distance each quiet cycle, to a margin below
//     it, and holds there (plateauCycles); only then does it probe above,
//     slowly at first, faster the longer no 429 comes (up to probeCap a
//     cycle), so that a fixed limit costs a 429 every few dozen cycles;
//     a probe's 429 sets the top halfway between the plateau's and the
//     rate the probe reached, as a fixed window refuses a probe late;
//   - the calls in flight at a decrease count as not taken until they
//     succeed (estimate429), and a 429 after a long quiet cycle cuts
//     little (longCycle), as the cycle's count reads the climb, not the
//     API.
//
// It stays out of the way of what knows better: a 429 that says too many
// calls were in flight is the adaptive ceiling's (adaptive.go), and once
// the API's headers speak of requests they pace alone (learn.go).

// margin429 is how far below what the API sustained the gate paces, and
// how far below the rate of the last 429 the climb stops: the estimate
// counts whole calls over a cycle, and a window's calls are as close to
// one another as the network delivers them; 2% covers a window's worth
// of 50 calls reading one high.
const margin429 = 0.02

// plateauCycles is how many quiet cycles the rate holds at a margin below
// the last 429's before it probes above it. An API whose limit does not
// move then costs a 429 (and a cool-down) every few dozen cycles: under
// 0.2% of the calls at 20 calls a cycle, and a cool-down's time in 30
// cycles' (3%), where probing from the first quiet cycle cost a 429 every
// few.
const plateauCycles = 30

// probeStep is the first probe above the plateau, as a fraction of the
// last 429's rate; each quiet cycle doubles it, up to probeCap of the
// rate: a 429 then finds the rate little above the limit, which the
// next plateau's margin covers. A window counted in fixed slices says so
// only a few cycles late, when the slices' phase lines up: steps
// doubling without a cap overshot it by a half and cost a 429 in every
// few cycles. The price is that a limit raised since is found at 0.8% a
// cycle: 90 cycles to double.
const (
	probeStep = 0.001
	probeCap  = 0.008
)

// unsaidPause is how long a 429 without a Retry-After pauses the gate
// when it decreases the pace: the API said neither when to come back nor
// at what pace, and calls paced at once into a full window would be
// refused again, each read as a cycle that sustained nothing. A second is
// the window most such APIs count in; a longer window is learned as the
// cycles without a success halve the pace.
const unsaidPause = time.Second

// longCycle is how many climbs' time a cycle must last for its 429 to
// cut the rate by longCut at most. Such a cycle's count averages the
// climb back from its beginning's cut and reads the API's pace low: an
// API of 20 calls a second read 17.9 after a minute's climb from 10.
const (
	longCycle = 4
	longCut   = 0.95
)

// trustCycles is how many quiet cycles a top brought halfway down by a
// deep cut holds before the climb goes on to the rate the 429 came at: a
// bucket's burst, drained, says so with a 429 within a cycle or two of
// the climb reaching its refill; a window never does, and a window's
// short cycle read as a bucket's cost 25% of its pace for the 30 cycles
// of a plateau.
const trustCycles = 3

// minTaken is how many calls a first cycle must have seen taken to pace
// by it: one call, or none, says nothing of a pace, and a gate that saw
// a 429 on its first call would be paced at one call per cool-down.
const minTaken = 2

// deepCut is how far below the rate a 429 came at the calls the API took
// must read for that rate to be no ceiling at all (see throttled).
const deepCut = 0.75

// minClimbEvery bounds how often the rate climbs: a Retry-After of a few
// milliseconds is no cycle of the API's, whose window is rarely shorter
// than a second.
const minClimbEvery = time.Second

// paceOf429 is what a gate learns from 429s alone (see above). Times are
// since the gate's epoch.
type paceOf429 struct {
	// next is when the rate may climb next, plus 1ns; 0 while the gate
	// does not pace by 429s. late is the last decrease, plus 1ns, while
	// the successes of calls admitted before it still correct its
	// estimate; 0 when they do not. Permit.Done reads both on every
	// success, so they live with the counters 429s write.
	next atomic.Int64
	late atomic.Int64

	// The rest is guarded by the gate's learned.mu.
	off       bool          // the API's headers spoke of requests: they pace
	forgiven  bool          // a 429 cut no pace but cooled (forgive): the first cycle begins at boundary
	boundary  time.Duration // the cycle began (the last cool-down's end)
	admitted  int64         // admissions when it began
	refused   int64         // rate 429s of calls admitted since it began, learned of
	thrownAt  int64         // the gate's throttled calls, done, at the last decrease
	stale     int64         // throttled calls admitted before it, done after
	idle      time.Duration // of it, cool-downs of 429s about concurrency
	idleTo    time.Duration // the last of those ended
	decreased time.Duration // the last decrease plus 1ns; 0: none yet
	rate      float64       // calls a second; 0: none learned
	top       float64       // the rate the climb stops below; 0: unknown
	came      float64       // the rate the last 429 came at; 0: none
	every     time.Duration // a cycle: how often the rate climbs
	quiet     int           // cycles at the plateau, or probing above it
	est       estimate429   // the last decrease's
}

// estimate429 is a cycle's estimate of the pace the API sustains. The
// calls in flight when it is made are counted as not taken, the least
// they can be: those that succeed later add to it (paceOf429.tookLate),
// until the rate first climbs. Subtracting them for good read a first
// burst of 20 calls in a second's window as 16: a fifth too slow, for
// the dozens of cycles the climb takes to make it up.
type estimate429 struct {
	from   time.Duration // the cycle began
	taken  int64         // calls the API took in it
	cycle  time.Duration // from its beginning to the end of its cool-down, or its window
	factor float64       // 1, or 1 - margin429
	lo, hi float64       // bounds of the rate; hi 0: none
	// windowed says cycle is the window a first 429's Retry-After
	// implied (wholeWindow): the count over it is the API's pace, the
	// top the climb holds below.
	windowed bool
}

// pace returns the calls taken a second of the cycle, as counted.
func (e *estimate429) pace() float64 { return float64(e.taken) / e.cycle.Seconds() }

// rate returns the estimate in calls a second, within its bounds, and
// never below a call a cycle.
func (e *estimate429) rate() float64 {
	r := max(e.pace()*e.factor, 1/e.cycle.Seconds())
	if e.hi > 0 {
		r = max(min(r, e.hi), e.lo)
	}
	return r
}

// tally429 is what a gate had counted when a 429 came.
type tally429 struct {
	admitted int64 // calls admitted so far
	inFlight int64 // of them, not done
	// throttled is how many of the calls done were throttled
	// (Gate.throttled, read after the calls done), and nth which of them
	// the 429 is (0: unknown). A call counts itself throttled before it
	// counts itself done, so that a 429 of a storm, done but not yet
	// learned of when the first one decreases, is not taken for a call
	// the API took: four such in a burst of 200 read a second's window of
	// 200 calls as 204, over the limit.
	throttled, nth int64
}

// throttled learns from a 429 at now (about concurrency when concurrent:
// then only that a cool-down sent nothing) of a call admitted at start,
// whose cool-down ends at end;
// retryAfter is the wait it asked for (0: none), c what the gate had
// counted, first when its first call was admitted, given the gate's given
// rate in calls a second (0: none). It returns the new rate in calls a
// second, and whether it changed. The caller holds the gate's learned.mu.
func (p *paceOf429) throttled(start, now, end, first, retryAfter time.Duration, c tally429, concurrent bool, given float64) (float64, bool) {
	if p.off || p.decreased > 0 && start < p.decreased || p.decreased == 0 && p.forgiven && start < p.boundary {
		if c.nth > p.thrownAt {
			p.stale++ // not this cycle's to count: its decrease or cool-down counted it in flight
		}
		return p.rate, false // sent at the old pace, or before a cool-down, or not ours to pace
	}
	if concurrent {
		// The adaptive ceiling's (adaptive.go), and no word on the rate:
		// the API took the calls in flight and refused one more. Its
		// cool-down, when it asked for one, sent nothing, and is no
		// part of what the API sustains: before a pace is learned the
		// cycle begins again at its end (forgive), and the rate's first
		// 429 reads its window from there; after, the cycle keeps its
		// count and leaves the cool-down's time out (idle). Read over a
		// cycle from the gate's first call, the cool-down counted in and
		// the window not read, an API of 20 calls a second and 5 in
		// flight that refused the first burst's sixth call was paced at
		// 9.7 a second (an outside tester: 3.2 of the minimum through
		// the proxy). Begun again later, a cycle cut short by the next
		// 429 would cut the pace deep. The refused call is left out of
		// the count by the gate's throttled calls (tally429); p.refused
		// counts the rate's 429s alone, the first of which says the
		// window.
		if retryAfter > 0 && end > now {
			if p.decreased == 0 {
				p.forgive(end, c)
			} else if from := max(now, p.boundary, p.idleTo); end > from {
				p.idle += end - from // once, however many 429s it ended
				p.idleTo = end
			}
		}
		return p.rate, false
	}
	p.refused++
	if p.forgiven {
		first = p.boundary // a cool-down's end (forgive): the next burst began there
	}
	if p.decreased == 0 {
		p.boundary = first
	}
	// The rate the 429 came at, once a pace is learned: the pace, or the
	// given rate where that is tighter. A first pace under a given rate
	// is read as a first burst's is (the cycle begun at the forgiven
	// 429's cool-down's end, see forgive), and the climb from it probes,
	// as from a first burst's: given 10/s against an API of 8 a second,
	// a top at the rate given drew a 429 at each climb back.
	inForce := p.rate
	if given > 0 && inForce > given {
		inForce = given
	}
	cycle := max(end-p.boundary-p.idle, time.Millisecond)
	refused := max(c.throttled-p.thrownAt-p.stale, p.refused)
	took := max(c.admitted-p.admitted-refused-c.inFlight, 0)
	// A first cycle's estimate needs no margin: it counts a whole
	// window's calls over the window and the cool-down's rounding, a
	// floor of the window's pace; a bucket's reads high whatever the
	// margin, and its next cycle reads the refill. A later one's is
	// bounded: a 429 lowers the rate by the margin at least and by half
	// at most.
	p.est = estimate429{from: p.boundary, taken: took, cycle: cycle, factor: 1}
	window := time.Duration(0)
	if p.decreased == 0 && p.refused == 1 {
		// Only the cycle's first 429 says when its first call leaves
		// the window; a cool-down before it (a forgiven 429's, or one
		// about concurrency) began the cycle again at its end.
		window = wholeWindow(now-first, retryAfter)
	}
	if window > 0 && window < cycle {
		// The Retry-After, in whole seconds, says when the window the
		// first burst filled frees: the count over that window is the
		// API's pace, not a floor of it, and is read with the margin.
		p.est.cycle, p.est.factor, p.est.windowed = window, 1-margin429, true
	}
	if inForce > 0 {
		p.est.factor, p.est.lo, p.est.hi = 1-margin429, inForce/2, inForce*(1-margin429)
		if p.every > 0 && now-p.boundary >= longCycle*p.every {
			// Quiet for several cycles, the rate was kept by the pace
			// itself, not by the API, and the cycle's count reads the
			// climb that led to it: the rate came just past the limit.
			p.est.lo = inForce * longCut
		}
	}
	r := p.est.rate()
	if inForce == 0 && took < minTaken {
		r = 0 // too few to tell a pace by, unless calls in flight add to them
	}
	// The rate the 429 came at is the new top; none when no rate was in
	// force (the first burst's is no ceiling). When the calls the API
	// took read a good deal less than that rate (deepCut), something
	// other than the pace carried it (a bucket's burst, draining slowly),
	// and so would it again: the new top is halfway down to the new rate
	// (CUBIC's fast convergence), so that the next climb stops short of
	// where this one failed. A window's cycles read a little low (the
	// cool-down, in whole seconds, is counted in), never that low but
	// for a cycle barely longer than its cool-down.
	top, came := inForce, inForce
	if inForce > 0 && r < inForce*deepCut {
		top = (inForce + r) / 2
	}
	if p.top > 0 && p.quiet > plateauCycles && p.rate > p.top && r >= p.rate*deepCut {
		// A probe above a plateau that held: the limit lies between the
		// plateau's top and the rate the probe reached, and a window
		// counted in fixed slices says so only cycles after the probe
		// passed it, by more than the margin: a 20/s window refused a
		// probe at 20.7, and a plateau 2% under 20.7 was refused again,
		// in a short cycle that cut deep. The top is halfway between (so
		// is the rate the trust in a halved top climbs back to); a limit
		// raised since is found half the way at each probe.
		top = (p.top + p.rate) / 2
		came = top
	}
	if p.est.windowed {
		top = p.est.pace() // the window's pace: the climb holds a margin below it
	}
	p.top, p.came = top, came
	p.rate = r
	p.boundary, p.admitted, p.refused, p.decreased, p.idle = end, c.admitted, 0, now+1, 0
	p.thrownAt, p.stale = max(c.throttled, p.thrownAt), 0
	p.every = max(p.every, end-now, minClimbEvery) // the longest cool-down: the API's window, at most
	p.quiet = 0
	p.late.Store(int64(p.decreased))
	p.next.Store(int64(end+p.every) + 1)
	return r, r > 0
}

// forgive notes a 429 that cut no pace (a gate's first under its given
// rate, see learnThrottled, or one about concurrency that asked for a
// cool-down) whose cool-down ends at end, c what the gate
// had counted: the first pace learned, if 429s come again, is read from
// the calls after it, over the cycle from end, as a first burst's is
// from the first call. Read from the gate's first call, it counted the
// forgiven cool-down in, and given 10/s against an API of 8 a second read
// 5 (an outside review: 1.47 of the minimum). The caller holds the
// gate's learned.mu.
func (p *paceOf429) forgive(end time.Duration, c tally429) {
	p.forgiven = true
	p.boundary, p.admitted, p.refused, p.idle = end, c.admitted, 0, 0
	p.thrownAt, p.stale = max(c.throttled, p.thrownAt), 0
}

// tookLate counts a success of a call admitted at start, before the last
// decrease, in that decrease's estimate (estimate429). late is the last
// decrease as the call read it (paceOf429.late) before it counted itself
// done: a success done before the decrease counted the calls done is
// among them already, and one done after it read late after it was set.
// It returns the new rate and whether it changed. The caller holds the
// gate's learned.mu.
func (p *paceOf429) tookLate(start, late time.Duration) (float64, bool) {
	if p.off || late == 0 || late != time.Duration(p.late.Load()) || start >= p.decreased || start < p.est.from {
		return p.rate, false
	}
	p.est.taken++
	if p.est.windowed && p.came == 0 {
		p.top = p.est.pace()
	}
	r := p.est.rate()
	if r == p.rate || p.rate == 0 && p.est.taken < minTaken {
		return p.rate, false
	}
	p.rate = r
	return r, true
}

// climb raises the rate by a cycle's step at now, when a cycle has passed
// since the last decrease or climb. It returns the new rate and whether
// it changed. The caller holds the gate's learned.mu.
func (p *paceOf429) climb(now time.Duration) (float64, bool) {
	if p.off || p.rate == 0 || now+1 < time.Duration(p.next.Load()) {
		return p.rate, false
	}
	p.next.Store(int64(now+p.every) + 1)
	p.late.Store(0) // the estimate is the climb's to correct now
	if p.top < p.came && p.rate >= p.top*(1-margin429) && p.quiet >= trustCycles {
		// The top halfway down held trustCycles: the short cycle that
		// cut this deep was a window's cool-down read as a bucket's
		// drain, and the climb goes on to the rate the 429 came at.
		p.top, p.quiet = p.came, 0
	}
	plateau := p.top * (1 - margin429)
	switch {
	case p.top > 0 && p.rate < plateau:
		p.rate = min(plateau, p.rate+max((plateau-p.rate)/2, p.top*probeStep))
	case p.top > 0 && p.quiet < plateauCycles:
		p.quiet++
		return p.rate, false
	default:
		// Probing: the step doubles each quiet cycle, from probeStep of
		// the last 429's rate (of the rate itself when none came at a
		// known one), up to probeCap of the rate.
		base := p.top
		if base == 0 {
			base = p.rate
		}
		k := p.quiet - plateauCycles
		if p.top == 0 {
			k = p.quiet
		}
		p.quiet++
		step := base * probeStep * math.Exp2(float64(min(max(k, 0), 30)))
		p.rate += min(step, p.rate*probeCap)
	}
	return p.rate, true
}

// wholeWindow returns the window a first 429, since after the gate's
// first call, implies when its Retry-After is retryAfter, a whole number
// of seconds: 0 when it is none. Most APIs write Retry-After in whole
// seconds, rounded up, and count their limits per whole seconds (a
// second, a minute, an hour). The first call is the oldest in a window
// the first burst filled, so the wait the API rounded up is when that
// window frees: the window is more than since+retryAfter-1s and at most
// since+retryAfter, and of the whole seconds there is one. Taking the
// first burst's count over since+retryAfter instead read a burst of 200
// calls in half a second, told to come back in a second, as 133 a
// second: a third too slow, for the dozens of cycles a probe takes to
// make it up.
func wholeWindow(since, retryAfter time.Duration) time.Duration {
	if retryAfter < time.Second || retryAfter%time.Second != 0 || since < 0 {
		return 0
	}
	return (since+retryAfter-time.Second)/time.Second*time.Second + time.Second
}

// perSecond returns r calls a second as a Rate.
func perSecond(r float64) Rate { return Rate{N: r, Per: time.Second} }

// learnThrottled is what Permit.Done learns from a throttled call admitted
// at start: a pace, when the API says nothing else (paceOf429).
//
// The first 429 of a gate kept to a given rate (firstWidened: the first
// to widen its margin, margin.go) cuts no pace: a gate kept to the API's
// published number met the limit by a hair, most likely the network's
// jitter squeezing a window, and the widened margin is the answer to
// that; it pauses the gate, as any 429 does. Cut as a pace learned from
// nothing, one jittered 429 cost a run against a strict API at 10/s a
// third of its pace for good, the climb back above the cut taking a
// probe's 0.8% a cycle (an outside review). 429s that come again say the
// number given may be wrong, and the pace is learned from them, read from
// the calls since the first one's cool-down (forgive).
func (g *Gate) learnThrottled(start time.Time, o Outcome, nth int64, firstWidened bool) {
	if g.epoch.IsZero() {
		return // the zero Gate holds no learned limits
	}
	p := &g.paced429
	g.learned.mu.Lock()
	if p.off {
		g.learned.mu.Unlock()
		return
	}
	now := time.Now()
	end := g.pausedLocally()
	paused := false // by this 429, which no Retry-After paused for
	if end.IsZero() && !o.ConcurrencyLimited && (p.decreased == 0 || start.Sub(g.epoch) >= p.decreased) {
		// No Retry-After paused the gate: this decrease pauses it, before
		// the admissions are counted, so that none slips in between.
		end = now.Add(min(unsaidPause, g.learned.maxPause))
		paused = g.pauseLocal(end)
	}
	tally := func() tally429 {
		admitted := g.admittedSoFar()
		done := g.completedSoFar()
		return tally429{admitted: admitted, inFlight: max(admitted-done, 0), throttled: g.throttled.Load(), nth: nth}
	}
	if firstWidened {
		p.forgive(end.Sub(g.epoch), tally())
		g.learned.mu.Unlock()
		if paused && g.shared != nil {
			g.shared.Pause(end) // a network call: no lock held
		}
		return
	}
	first := g.firstAdmission()
	retryAfter := time.Duration(0)
	if o.RateLimit != nil && o.RateLimit.HasRetryAfter {
		retryAfter = o.RateLimit.RetryAfter
	}
	c := tally()
	r, changed := p.throttled(start.Sub(g.epoch), now.Sub(g.epoch), end.Sub(g.epoch), first, retryAfter, c, o.ConcurrencyLimited, g.margin.perSecond())
	g.setPaceOf429(r, changed) // unlocks
	if paused && g.shared != nil {
		g.shared.Pause(end) // a network call: no lock held
	}
}

// tookThrottled is what Permit.Done learns from a success of a call
// admitted at start while the gate paces by 429s: a call in flight at the
// last decrease that the API took after all, or a quiet cycle that
// climbs; late is the last decrease as the call read it before it
// counted itself done (tookLate). Most successes cost two atomic loads and
// a clock read.
func (g *Gate) tookThrottled(start time.Time, late time.Duration) {
	p := &g.paced429
	if since := start.Sub(g.epoch); since < late {
		g.learned.mu.Lock()
		r, changed := p.tookLate(since, late)
		g.setPaceOf429(r, changed)
		return
	}
	now := time.Since(g.epoch)
	if now+1 < time.Duration(p.next.Load()) {
		return // no cycle has passed
	}
	g.learned.mu.Lock()
	r, changed := p.climb(now)
	g.setPaceOf429(r, changed)
}

// setPaceOf429 sets the learned request rate to r calls a second when
// changed, shares it, and unlocks the gate's learned.mu, which is held.
func (g *Gate) setPaceOf429(r float64, changed bool) {
	rate := perSecond(r)
	if changed && rate.validate() == nil && r > 0 {
		g.learning.Store(true) // before the rate is set: admissions from now on ask it
		g.learned.requests.SetRate(rate)
	} else {
		changed = false
	}
	var share Limits
	if changed && g.shared != nil {
		share = g.learned.asLimits()
	}
	g.learned.mu.Unlock()
	if changed && g.shared != nil {
		g.shareLearned(share) // a network call: no lock held
	}
}

// headersPace tells the pace learned from 429s that the API's headers
// speak of requests: they pace from now on, and a rate learned from 429s
// gives way to theirs. The gate's learned.mu is held.
func (g *Gate) headersPace() {
	p := &g.paced429
	if p.off {
		return
	}
	p.off = true
	p.next.Store(0)
	p.late.Store(0)
	if p.rate > 0 {
		p.rate = 0
		g.learned.requests.SetRate(Rate{})
	}
}

// firstAdmission returns when the gate's first call was admitted, since
// its epoch: the first cycle's beginning. The gate keeps the times of its
// first admissions until it learns a limit (learn.go); without them, its
// epoch.
func (g *Gate) firstAdmission() time.Duration {
	first := time.Duration(math.MaxInt64)
	for i := range min(g.learned.unpaced.Load(), unpacedKept) {
		if at := g.learned.unpacedAt[i].Load(); at > 0 {
			first = min(first, time.Duration(at-1))
		}
	}
	if first == math.MaxInt64 {
		return 0
	}
	return first
}
