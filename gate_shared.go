package sluice

import (
	"context"
	"math/rand/v2"
	"time"
)

// askShared asks the gate's shared limits for c, for w at the front of the
// line, whose own limits have taken c (marks). g.mu is held on entry and
// released for the round trip, during which g.asking keeps every other
// caller from asking. Granted, it returns the Permit with g.mu released;
// failed, the error with g.mu released and w out of the line; refused,
// what to wait with g.mu held and the own limits given back.
func (g *Gate) askShared(ctx context.Context, c Cost, w *waiter, marks []int64) (*Permit, time.Duration, error) {
	g.asking = true
	g.mu.Unlock()
	ticket, wait, err := g.shared.Admit(ctx, c)
	g.mu.Lock()
	g.asking = false
	if err == nil && ticket != nil {
		g.leave(w)
		g.wakeFront()
		g.mu.Unlock()
		p := g.admit(c, g.sinceEpoch(), 0)
		p.shared = &sharedTicket{ticket}
		g.followShared() // a pace learned from 429s elsewhere (learn_shared.go)
		return p, 0, nil
	}
	g.untakeAll(c, marks)
	if err == nil && wait == 0 {
		wait = time.Millisecond // a Shared that refuses must say how long; never spin
	}
	if err != nil || g.halted != nil {
		if err == nil {
			err = g.halted
		}
		g.leave(w)
		g.wakeFront()
		g.mu.Unlock()
		return nil, 0, err
	}
	if g.waiters.front() != w {
		g.wakeFront() // one of higher priority came in meanwhile
	}
	return nil, jitter(wait), nil
}

// untakeAll gives back what try took with marks. g.mu is held.
func (g *Gate) untakeAll(c Cost, marks []int64) {
	for j := len(g.limits) - 1; j >= 0; j-- {
		g.limits[j].Untake(c, marks[j])
	}
}

// jitter lengthens a wait for shared limits by up to 1/16 of it (at most
// 2ms), so that processes told the same time do not all ask at once.
func jitter(wait time.Duration) time.Duration {
	if wait <= 0 {
		return wait
	}
	spread := min(wait/16, 2*time.Millisecond)
	if spread <= 0 {
		return wait
	}
	return wait + time.Duration(rand.Int64N(int64(spread)+1))
}
