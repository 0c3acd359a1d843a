package sluice

import (
	"math"
	"time"
)

// A pace learned from 429s alone goes to the shared limits as every
// learned pace does (Shared.Learn): every process's calls are the API's
// one quota. It is kept there apart (sharedPaceOf429), because it is not
// the API's word, as a header's is, but a guess its learner climbs back
// each quiet cycle: a process that only followed it there, with no
// learner of its own, kept it as long as Redis kept it (an hour), below
// the rate it was given, and its LearnedRate said 0 (an outside review:
// 7.39/s of a given 10/s outlived both proxies' restarts, and the next
// load took 167 of 240 calls in 31s). So each process follows such a pace
// as its own (adopt): it paces by it, reports it, and climbs it back
// from there, sharing each climb as the learner would have.

// followShared makes the pace learned from 429s that the gate's shared
// limits hold, when it differs from the gate's own, the gate's own. It
// runs after each admission through them, holding no lock; a pace that
// did not change costs a load or two.
func (g *Gate) followShared() {
	s, ok := g.shared.(sharedPaceOf429)
	if !ok {
		return
	}
	r := s.PaceOf429().PerSec()
	if r <= 0 {
		return
	}
	if math.Float64frombits(g.sharedPace.Load()) != r {
		g.sharedPace.Store(math.Float64bits(r))
	}
	if samePace(r, g.learned.requests.Rate().PerSec()) {
		return
	}
	g.learned.mu.Lock()
	defer g.learned.mu.Unlock()
	admitted := g.admittedSoFar()
	c := tally429{admitted: admitted, inFlight: max(admitted-g.completedSoFar(), 0), throttled: g.throttled.Load()}
	if !g.paced429.adopt(r, time.Since(g.epoch), c, g.margin.perSecond()) {
		return
	}
	g.learning.Store(true) // before the rate is set: admissions from now on ask it
	g.learned.requests.SetRate(perSecond(r))
}

// samePace reports whether two paces in calls a second are one, as far as
// a pace written to a store and read back can tell (package redis keeps
// an interval in thousandths of a microsecond).
func samePace(a, b float64) bool { return math.Abs(a-b) <= max(a, b)*1e-4 }

// shareLearned hands what the gate learned (l) to its shared limits,
// marked as learned from 429s when the gate paces by them and the shared
// limits keep such paces apart (sharedPaceOf429), with the pace the gate
// last knew them to hold: each process climbs, and a climb from a pace
// another process has cut since must not undo the cut. No lock is held.
func (g *Gate) shareLearned(l Limits) {
	if s, ok := g.shared.(sharedPaceOf429); ok && !l.Rate.IsZero() && g.paced429.next.Load() != 0 {
		was := math.Float64frombits(g.sharedPace.Swap(math.Float64bits(l.Rate.PerSec())))
		if was > 0 {
			s.Learn429(l, perSecond(was))
		} else {
			s.Learn429(l, Rate{})
		}
		return
	}
	g.shared.Learn(l)
}

// adopt makes r calls a second, a pace learned from 429s that the shared
// limits hold, this gate's at now, when it is another: c is what the gate
// has counted, given its given rate in calls a second (0: none). A pace
// lower than the gate's own (another process's cut), or one the gate
// never had, is taken as a decrease of its own: a cycle begins now,
// calls admitted before it say nothing of it, and the climb starts a
// cycle on, up to a margin below the given rate when the gate knew no
// top. A higher one (another process's climb) is only followed. It
// reports whether the rate changed. The caller holds the gate's
// learned.mu.
func (p *paceOf429) adopt(r float64, now time.Duration, c tally429, given float64) bool {
	if p.off || r <= 0 || p.rate > 0 && samePace(r, p.rate) {
		return false
	}
	if p.rate == 0 || r < p.rate {
		if p.top == 0 {
			p.top, p.came = given, given
		}
		p.boundary, p.admitted, p.refused, p.decreased = now, c.admitted, 0, now+1
		p.thrownAt, p.stale = max(c.throttled, p.thrownAt), 0
		p.every = max(p.every, minClimbEvery)
		p.quiet = 0
		p.late.Store(0) // the estimate was another's
		p.next.Store(int64(now+p.every) + 1)
	}
	p.rate = r
	return true
}

// sharedInForce tells the pace learned from 429s, before a 429 of a gate
// whose given rate is kept in a Store is learned from, that it came at
// the given rate when no pace was learned yet: the shared limits kept
// every process's calls to it, and this process's calls, all the gate
// counts, are only its share of them. Read as a first burst's, from its
// own calls alone, one of two proxies at a given 10/s learned 3.76/s and
// probed up from there at under 1% a cycle (an outside review); as a
// pace in force, the cut reads at least half the rate given and climbs
// back to it.
func (g *Gate) sharedInForce() {
	given := g.margin.shared // set when the gate is made, never after
	if given <= 0 {
		return
	}
	g.learned.mu.Lock()
	defer g.learned.mu.Unlock()
	if p := &g.paced429; !p.off && p.rate == 0 {
		p.rate = given
	}
}
