package sluice

import "time"

// Callers that queue for concurrency are admitted by whoever frees the
// slot, as a channel hands its value to a waiting receiver: the caller
// whose call ends (Permit.Done, handOff) admits the one at the front of
// the line and wakes it with its Permit, and an admitted caller does the
// same for those behind it while the limits admit them (passOn). Waiting
// instead for the caller at the front to wake and ask, each admission
// waited for a wake-up to be scheduled, one after another, so that on a
// busy machine fewer calls were in flight than the limit allowed: the
// zero Transport, 64 callers queued for 8 slots, made 0.78 times a plain
// client's requests a second at 1.37 times its CPU, where 64 callers
// taking turns at a channel of 8 slots made 1.01 times at 1.06 (issue 15).
//
// A caller the limits refuse stays asleep when the refusal is a
// concurrency limit's (changeNotifier): the limit wakes it on its next
// change, should the slot be freed by no call of this gate (another gate
// sharing the limit, a higher ceiling). It is woken at once when only it
// can wait for what refused it (a time, a pause).

// A changeNotifier is a Limit that can signal a channel of the caller's
// on its next change, as closing Changed would, without making a channel
// for each change. The gate's Semaphore and AdaptiveLimit are.
type changeNotifier interface {
	// notifyOnChange sends on ch, without blocking, at the next change
	// (a release, a new limit), then forgets it.
	notifyOnChange(ch chan struct{})
}

// handOff admits the caller at the front of the line, and those behind it,
// if the limits admit them now: a Permit was just done. When they refuse,
// it changes nothing, and the caller at the front waits as it was.
func (g *Gate) handOff() {
	g.mu.Lock()
	defer g.mu.Unlock()
	w := g.waiters.front()
	if w == nil || g.shared != nil || g.asking || g.halted != nil {
		return
	}
	now, from := g.clock(), g.from()
	if wait, _ := g.try(w.cost, now, 0, nil, from); wait != 0 {
		return
	}
	g.handTo(w, now, from)
	g.passOn(now, from)
}

// passOn readies the caller now at the front of the line, after the one
// before it was admitted at now: it admits it if the limits do, and the
// next, and so on; then leaves the first refused asleep, to be woken by
// the refusing limit's next change, or wakes it when only it can wait for
// what refused it. g.mu is held.
func (g *Gate) passOn(now time.Time, from int) {
	for w := g.waiters.front(); w != nil; w = g.waiters.front() {
		if g.shared != nil || g.asking || g.halted != nil {
			g.wakeFront()
			return
		}
		wait, refused := g.try(w.cost, now, 0, nil, from)
		if wait == waitForChange && refused >= 0 {
			n, ok := g.limits[refused].(changeNotifier)
			if !ok {
				g.wakeFront()
				return
			}
			n.notifyOnChange(w.ready)
			// Asked again, now that a change would be told: a release
			// between the first asking and the notice was missed.
			var again int
			wait, again = g.try(w.cost, now, 0, nil, from)
			if wait == waitForChange && again == refused {
				return // asleep until the limit changes
			}
		}
		if wait != 0 {
			g.wakeFront()
			return
		}
		g.handTo(w, now, from)
	}
}

// handTo admits w, at the front of the line, with what try took for it at
// now, and wakes it with its Permit. g.mu is held.
func (g *Gate) handTo(w *waiter, now time.Time, from int) {
	w.permit = g.admit(w.cost, now, from)
	g.dequeue(w)
	select {
	case w.ready <- struct{}{}:
	default:
	}
}

// newWaiter returns a waiter to join the line, one that left it before
// when there is one: with 64 callers queued for 8 slots every call waits,
// and a waiter and its channel were two of its allocations. Only a stale
// wake-up can reach a waiter that left: a limit noticed of its channel
// (passOn) that changes after it left, or a wake-up sent as it left.
// Either makes its next owner ask the limits once more, which every
// wake-up in Acquire is ready for. They are kept by the gate, not in a
// sync.Pool: a channel made in a synctest bubble may be used only in it,
// and a gate's callers share its bubble. g.mu is held.
func (g *Gate) newWaiter(priority int, c Cost) *waiter {
	w := g.spare
	if w == nil {
		return &waiter{priority: priority, cost: c, ready: make(chan struct{}, 1)}
	}
	g.spare, w.next = w.next, nil
	w.priority, w.cost = priority, c
	select {
	case <-w.ready: // a stale wake-up
	default:
	}
	return w
}
