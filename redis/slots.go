package redis

import "time"

// How many calls a process may have in flight in Local mode, while Redis
// cannot say what the others hold.
//
// Each process kept its share of the shared concurrency (the limit over
// the processes counted), counting its calls held through Redis. But a
// process may hold more than its share when Redis goes away (it was
// busier), and then keeps those calls while the others fill their own
// shares: two processes sharing 10, holding 8 and 2, ran 8 + 5 (outside
// review, F6). What a process may take without Redis must add up, over
// the processes, to the limit at most, and each must know its part
// without asking anyone.
//
// So a process keeps the calls it holds, and of the slots the others did
// not hold when it last heard from Redis (N less the others' leases, its
// own counted free), its part: a 1/K of them, K the processes Redis
// counted. Together: if every process's last answer saw the same leases,
// T of them, process i holding m_i, each may have max(m_i, (N-T+m_i)/K)
// in flight, and the sum is at most T + (N-T) = N: whoever holds more
// than its part of the free slots keeps no part of them. A busy fleet,
// where the limit matters, hears from Redis all the time, and its
// processes' last answers agree. The last answer of a process that was
// idle may be older than others' admissions: it may then take its part
// of slots others took meanwhile, at most 1/K of the limit each, so that
// K processes together keep N + (K-1)·N/K at worst (two: N plus a
// half), as the shares alone always did.
//
// A process that never had an answer knows nothing of the others: it
// takes the limit over Options.Processes (see there).

// view is what a gate last heard from Redis of the shared concurrency.
type view struct {
	at     time.Time // when the answer was asked for; a later one wins
	leases int       // leases held by every process
	own    int       // this process's among them
	procs  int       // processes counted (0: unknown)
}

// observe records an answer asked for at sent: leases held in all, own
// of them this process's, procs counted (0: not said; the last count is
// kept). Leases below 0 (not counted) change nothing. g.mu is held.
func (g *shared) observe(sent time.Time, leases, own, procs int) {
	if leases < 0 || sent.Before(g.view.at) {
		return
	}
	if procs <= 0 {
		procs = g.view.procs
	}
	g.view = view{at: sent, leases: leases, own: own, procs: procs}
}

// heldUnits returns the units of the leases this process holds. g.mu is
// held.
func (g *shared) heldUnits() int { return g.heldN }

// slots returns how many calls this process may have in flight in Local
// mode (see above), share being the processes to divide by when it never
// heard from Redis. g.mu is held.
func (g *shared) slots(share int) int {
	n := g.cfg.concurrency
	if g.view.at.IsZero() {
		return max(n/max(share, 1), 1)
	}
	others := max(g.view.leases-g.view.own, 0)
	return max(n-others, 0) / max(g.view.procs, 1)
}
