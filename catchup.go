package sluice

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// A Gate's timer wakes its front waiter late by up to a millisecond on a
// quiet machine, and by 5 to 70 ms when the machine is loaded (issue 15:
// a sample paced at 200/s under load had 2000 wake-ups late by 0.6 ms at
// the median and 6 ms at the 99th percentile). A RateLimiter forgives up
// to maxLate of it, which the margin apiSafe puts on every rate covers;
// lag beyond that used to be lost for good, every time, and was nearly all
// of what a paced batch lost to load: 370 ms of a 10 s batch, 3.7%.
//
// A limiter of a second's window or less, N a whole count of at most
// maxLogged, with burst 1, catches up instead: through Take it forgives a
// timer's lag up to a tenth of its period, and keeps forgiving up to what
// it forgave while the calls behind catch up, so that they start back to
// back until the schedule is met again. That alone would let N+1 starts
// come closer than the period; what keeps them apart is a log of the last
// N starts: a take is admitted only once the start N units before its
// last unit is at least the period less maxLate old.
//
// Why that is enough (N+1 starts span at least Per-maxLate, the window
// plus networkJitter apiSafe leaves for the network): let units be
// numbered in the order they were taken, s(u) the time unit u started.
// Every take that starts through the limiter, Take, AllowN and Reserve
// alike, logs its units and is refused while s(u-N) + Per-maxLate is
// later than its start, u being its last unit (and so for its earlier
// units, whose constraints are older). A take given back (Untake) removes
// its own units when they are still the newest, so the log holds exactly
// the units that started, in order; when another take came after, they
// stay, as starts that never happened: they only make later takes wait
// longer. A SetRate to another N resizes the log, taking the unknown
// older starts to have come as late as the oldest one known, later than
// they did: again only a longer wait. A take never starts before its
// GCRA time either, so the log only adds a constraint.
//
// Memory: the log is made by the first Take at a rate that qualifies, 8
// bytes a unit of the window plus a few (at most about 2 KiB); gates at
// faster rates or longer windows keep none and pace as before. Every take
// through a logged limiter costs a mutex, against a compare-and-swap:
// such a limiter admits a few hundred calls a second at most.

// maxLogged is the largest count per period a RateLimiter keeps a log
// of starts for (see above).
const maxLogged = 256

// undoSlack is how many units of the newest take the log can give back:
// it keeps as many starts beyond the window for that.
const undoSlack = 4

// catchUpShare is the most timer lag a logged limiter forgives, as a
// fraction of its period: a limiter of 200 per second catches up on up
// to 100 ms, 20 starts back to back, and never on an hour's sleep.
const catchUpShare = 10

// logWindow returns the count of starts a limiter at r with burst keeps
// a log of, 0 when it keeps none: a whole count from 2 to maxLogged,
// burst 1, and a period of about a second or less (a second widened by
// apiSafe and learnedMargin). Longer windows are enforced in slices (see
// slicedSafe), which a log of the whole window would not keep.
func logWindow(r Rate, burst int) int {
	if burst != 1 || r.N < 2 || r.N > maxLogged || r.N != math.Trunc(r.N) ||
		r.Per > time.Second+maxMargin+time.Duration(marginCap*float64(time.Second)) {
		return 0
	}
	return int(r.N)
}

// startLog is the log of a RateLimiter's last starts (see above).
type startLog struct {
	mu sync.Mutex
	// at is a ring of the last starts, one entry a unit, on the limiter's
	// clock, oldest at next; noStart where none is known.
	at   []int64
	next int
	seq  int64 // units logged so far
	debt int64 // lag forgiven and not made up yet
	last int64 // the newest start
	// caughtUp is the newest start forgiven more lag than maxLate, the
	// only kind the log must remember (see fit), and caughtSpan the span
	// it must keep from the starts after it; caughtUp is noStart for none.
	caughtUp, caughtSpan int64
	undo                 logUndo
	// stale is set when a start was not logged (the rate did not
	// qualify for a while): the ring no longer holds the last starts.
	stale atomic.Bool
}

// logUndo is what Untake needs to give back the newest take.
type logUndo struct {
	seq, clips int64 // after the take; seq 0: nothing to give back
	k          int   // units logged
	debt, last int64 // before the take
}

func newStartLog() *startLog { return &startLog{caughtUp: noStart} }

const noStart = math.MinInt64

// startLog returns the limiter's log, made on first use. It is made
// under l.mu, which SetRate holds to hand it on: none is lost.
func (l *RateLimiter) startLog(p *rateParams) *startLog {
	if g := p.starts.Load(); g != nil {
		return g
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p = l.params.Load()
	if p.starts.Load() == nil {
		p.starts.Store(newStartLog())
	}
	return p.starts.Load()
}

// fit makes the ring hold the last n starts (plus undoSlack), spanning
// span, for a take at now. Resized to another count, or after starts it
// did not see (stale), it no longer knows the last n: while a start it
// caught up with may still bind (within a span of it), it takes those it
// does not know to have come as late as they can have, the oldest it
// knows or, after unseen ones, now (then the next window holds no more
// than the pace admits anyway). Otherwise they need no log: every start
// not caught up with keeps its distance by GCRA alone, and it starts
// afresh. g.mu is held.
func (g *startLog) fit(n int, span, now int64) {
	size := n + undoSlack
	stale := g.stale.Load()
	if len(g.at) == size && !stale {
		return
	}
	binding := g.caughtUp != noStart && now-g.caughtUp < max(span, g.caughtSpan)
	at := make([]int64, size)
	known := 0
	fill := int64(noStart)
	switch {
	case binding && stale:
		fill = now
	case binding && len(g.at) > 0:
		known = min(len(g.at), size)
		fill = g.at[(g.next+len(g.at)-known)%len(g.at)]
	}
	for i := range size - known {
		at[i] = fill
	}
	for i := range known {
		at[size-known+i] = g.at[(g.next+len(g.at)-known+i)%len(g.at)]
	}
	g.at, g.next = at, 0
	g.undo.seq = 0 // positions moved
	g.stale.Store(false)
}

// earliest returns when a take of n units may start by the log, n
// units being admitted at most a window at a time. g.mu is held.
func (g *startLog) earliest(n, window int, span int64) int64 {
	k := min(n, window)
	// The unit window before the take's last is k-1 past the window's
	// oldest, which is undoSlack past the ring's.
	t := g.at[(g.next+undoSlack+k-1)%len(g.at)]
	if t == noStart {
		return noStart
	}
	return t + span
}

// resend moves the starts logged from from on to to, if they are
// earlier. A take due at some time and made more than maxLate after it
// says the process stalled (its timer could not fire, or the hand-off
// could not run); a call admitted just before the stall was then sent
// only as it ended, with the ones that catch up after it, and they reach
// the API together. Forgiving only maxLate, the pace slipped by the
// stall: the start N after such a call came no sooner than N-1 intervals
// less maxLate after the late take, which is what logging the call an
// interval before the late take (to) keeps. from, an interval and
// maxLate before the late take was due, finds the call admitted just
// before the stall and, in a catch-up stalled again, those admitted back
// to back since. g.mu is held.
func (g *startLog) resend(from, to int64) {
	window := len(g.at) - undoSlack
	for i := 1; i <= window; i++ {
		j := (g.next + len(g.at) - i) % len(g.at)
		if g.at[j] < from {
			break
		}
		g.at[j] = max(g.at[j], to)
	}
}

// add logs n units started at t. g.mu is held.
func (g *startLog) add(n int, t int64) int {
	k := min(n, len(g.at)-undoSlack)
	for range k {
		g.at[g.next] = t
		g.next = (g.next + 1) % len(g.at)
	}
	g.seq += int64(n)
	g.last = t
	return k
}

// lockedLoad is load for a holder of g.mu: while a SetRate is between its
// two stores it lets go of g.mu rather than spinning on it, so that a
// SetRate resizing the log never waits for a take that waits for it.
func (l *RateLimiter) lockedLoad(g *startLog) (int64, *rateParams) {
	for {
		if tat := l.tat.Load(); tat != frozenTat {
			return tat, l.params.Load()
		}
		g.mu.Unlock()
		runtime.Gosched()
		g.mu.Lock()
	}
}

// takeLogged is takeN for a limiter that keeps a log of its starts, as
// of late before now; ok is false when its rate no longer qualifies.
func (l *RateLimiter) takeLogged(n int, now time.Time, late time.Duration) (wait time.Duration, mark int64, ok bool) {
	g := l.startLog(l.params.Load())
	g.mu.Lock()
	defer g.mu.Unlock()
	real := l.at(now)
	for {
		tat, p := l.lockedLoad(g)
		if p == nil || p.logged == 0 {
			g.stale.Store(true)
			return 0, 0, false
		}
		window := p.logged
		g.fit(window, p.span(), real)
		cost := mulSat(int64(n), p.interval)
		start := max(tat+min(cost, p.tau)-p.tau, g.earliest(n, window, p.span()))
		if start > real {
			return time.Duration(start - real), 0, true
		}
		catchUp := int64(p.rate.Per) / catchUpShare
		lag := min(max(int64(late), 0), catchUp)
		if behind := real - tat; g.debt > 0 && behind > 0 && real-g.last <= catchUp+p.interval {
			// Still catching up on lag forgiven before: charged from
			// the schedule, not from now, which would lose it again.
			lag = max(lag, min(behind, g.debt))
		}
		newTat := l.advance(tat, real-lag, cost)
		clips := int64(l.clips.Load())
		if !l.tat.CompareAndSwap(tat, newTat) {
			continue
		}
		debt, last := g.debt, g.last
		if due := max(start, g.last); lag > int64(maxLate) && real-due > int64(maxLate) {
			// Later than due by more than the margin covers: the
			// machine stalled, and the starts admitted just before may
			// have been sent only now (see resend).
			g.resend(due-p.interval-int64(maxLate), real-p.interval)
		}
		if real-g.last > catchUp+p.interval {
			g.debt = 0 // a quiet spell: nothing is owed any more
		}
		if forgiven := real - max(tat, real-lag); forgiven > 0 {
			g.debt = max(g.debt, forgiven)
			if forgiven > int64(maxLate) {
				g.caughtUp, g.caughtSpan = real, p.span()
			}
		}
		k := g.add(n, real)
		g.undo = logUndo{seq: g.seq, clips: clips, k: k, debt: debt, last: last}
		return 0, -g.seq, true // negative: a logged take (see untake)
	}
}

// span is how far apart a window's count plus one of starts must be
// through a log: the period less the lag an unlogged limiter forgives,
// so that apiSafe's margin leaves networkJitter as before.
func (p *rateParams) span() int64 { return max(int64(p.rate.Per-maxLate), 0) }

// untakeLogged gives back the logged take whose mark is -seq: its units
// and its charge when it is still the newest, nothing otherwise (its
// starts then stay, and only make later takes wait).
func (l *RateLimiter) untakeLogged(n int, seq int64) {
	g := l.params.Load().starts.Load()
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	u := g.undo
	if u.seq != seq || g.seq != seq || u.k > undoSlack {
		return
	}
	g.next = (g.next + len(g.at) - u.k) % len(g.at)
	g.seq -= int64(n)
	g.debt, g.last = u.debt, u.last
	g.undo.seq = 0
	l.untakeN(n, u.clips)
}

// reserveLogged is reserve for a limiter that keeps a log: the
// reservation starts no sooner than the log allows, and is logged at its
// start. ok is false when the rate no longer qualifies.
func (l *RateLimiter) reserveLogged(g *startLog, n int, maxWait int64) (r *Reservation, admitted, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		tat, p := l.lockedLoad(g)
		if p == nil || p.logged == 0 {
			return nil, false, false
		}
		g.fit(p.logged, p.span(), l.now())
		now := l.now()
		cost := mulSat(int64(n), p.interval)
		start := max(now, tat+min(cost, p.tau)-p.tau, g.earliest(n, p.logged, p.span()))
		if start > now && start-now >= maxWait {
			return nil, false, true
		}
		newTat := l.advance(tat, start, cost)
		if l.tat.CompareAndSwap(tat, newTat) {
			g.add(n, start)
			g.undo.seq = 0 // a reservation gives back by giveBack; its start stays logged
			return &Reservation{owner: l, n: n, start: start, mark: newTat, cost: cost, params: p}, true, true
		}
	}
}
