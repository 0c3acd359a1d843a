package redis

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
)

// fallback answers an admission while Redis cannot, as the Mode says.
func (g *shared) fallback(ctx context.Context, c sluice.Cost) (sluice.Ticket, time.Duration, error) {
	s := g.s
	switch s.opt.Mode {
	case Open:
		s.stats.fallbacks.Add(1)
		return noTicket{}, 0, nil
	case Closed:
		s.health.mu.Lock()
		err := s.health.lastError
		s.health.mu.Unlock()
		return nil, 0, &unavailableError{where: s.where() + " as " + s.name, err: err}
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if err := g.overCapacity(g.config(), c); err != nil {
		// As Redis would answer it: the share of a limit this process
		// keeps meanwhile would take it into a debt that holds every
		// later call back, and it could never be admitted anyway.
		return nil, 0, err
	}
	limits := g.localLimits()
	marks := make([]int64, len(limits))
	for i, l := range limits {
		wait, mark := l.Take(c, time.Time{}, 0)
		if wait != 0 {
			for j := i - 1; j >= 0; j-- {
				limits[j].Untake(c, marks[j])
			}
			if wait == sluice.WaitForChange {
				wait = concurrencyBackstop
			}
			// Come back no later than the next probe of Redis.
			return nil, min(wait, s.opt.RetryEvery), nil
		}
		marks[i] = mark
	}
	s.stats.fallbacks.Add(1)
	t := &localTicket{g: g, limits: limits, cost: c, start: time.Now()}
	if g.config().concurrency > 0 {
		// Its leases, for the renewals to put in Redis once it answers
		// again (renew.lua puts back what is missing): without them the
		// call, still in flight, was invisible there, and the other
		// processes took every slot (outside review).
		t.id, t.cn = s.newID(), max(c.Requests, 1)
		g.hold(t.id, t.cn)
	}
	return t, 0, nil
}

// overCapacity is admit.lua's first question asked here: the error for a
// cost that one of the shared limits, whole, could never admit; nil when
// each could.
func (g *shared) overCapacity(cfg config, c sluice.Cost) error {
	// A weight above the concurrency runs alone (admit.lua; the
	// fallback's Semaphore does the same).
	if n := int64(max(c.Requests, 1)); cfg.windowN > 0 && n > int64(cfg.windowN) {
		return g.tooLarge(cfg, c, -1)
	}
	for i, p := range cfg.pacers {
		if p.capacity > 0 && p.units(c) > p.capacity {
			return g.tooLarge(cfg, c, int64(i+1))
		}
	}
	return nil
}

// localLimits returns the in-memory limits of this outage, made at this
// process's share of the shared limits.
func (g *shared) localLimits() []sluice.Limit {
	share := g.s.health.share(g.s.opt.Processes)
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.graceUntil.IsZero() && time.Now().After(g.graceUntil) {
		// Left from an earlier outage's grace, which no admission
		// ended: made anew, from what Redis said since.
		g.local, g.graceUntil = nil, time.Time{}
	}
	if g.local == nil {
		var sem *sluice.Semaphore
		g.local, sem = g.cfg.local(share, g.slots(share), g.heldUnits())
		if sem != nil {
			for id, l := range g.held {
				l.local = sem
				g.held[id] = l
			}
		}
	}
	return g.local
}

// localTicket is a call admitted by Local mode's limits.
type localTicket struct {
	g      *shared
	limits []sluice.Limit
	cost   sluice.Cost
	start  time.Time
	// id and cn name its leases (none when cn is 0), which renewals put
	// in Redis when it answers again.
	id string
	cn int
	// dated is set once the call is dated in the local window (a
	// Transport's call is taken pending there as in Redis).
	dated atomic.Bool
}

// Unshared says the call was admitted by this process's local share
// alone, Redis not answering: a 429 of its is the fallback's, and teaches
// the gate no pace (sluice's unsharedTicket).
func (t *localTicket) Unshared() bool { return true }

// Sent implements sluice.SentTicket: the local limits count the call
// from now on, as a SlidingWindow of a gate in memory would.
func (t *localTicket) Sent() {
	if t.dated.CompareAndSwap(false, true) {
		sluice.DateSent(t.cost, t.limits...)
	}
}

// Finish implements sluice.Ticket.
func (t *localTicket) Finish(o sluice.Outcome) {
	if t.dated.CompareAndSwap(false, true) {
		sluice.DateSent(t.cost, t.limits...) // never said sent: it left by now
	}
	for _, l := range t.limits {
		l.Finish(t.cost, t.start, o)
	}
	if t.cn > 0 {
		t.g.unhold(t.id)
		// A renewal may have put its leases in Redis: taken out, off
		// the caller's path.
		r := &ticket{g: t.g, id: t.id, cn: t.cn}
		r.release(finishArgs(t.id, t.cn, 0, 0, 0, 0))
	}
	t.g.notify()
}

// noTicket is a call admitted by Open mode: nothing to give back.
type noTicket struct{}

// Finish implements sluice.Ticket.
func (noTicket) Finish(sluice.Outcome) {}

// Unshared says the call was admitted by no limit at all (Open mode): a
// 429 of its teaches the gate no pace.
func (noTicket) Unshared() bool { return true }
