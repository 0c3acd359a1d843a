package sluice

import "time"

// When the caller at the front of the line is admitted, the next one
// becomes the front and must watch the limits. Woken to find them still
// full, as it nearly always is when calls queue for concurrency (the slot
// just freed went to the caller before it), it would ask them, fetch a
// fresh Changed channel and sleep again: a second wake-up, a channel and
// a mutex round trip per admission (in the zero Transport, 64 callers
// queued for 8 slots, 96% of the callers woken so found them full).
// So the admitted caller asks the limits for it, and when a concurrency
// limit refuses, has the limit wake it directly on its next release
// (changeNotifier), without waking it now: one wake-up per admission, as
// with a channel. BenchmarkGateQueued: 3 allocations and about 2.3 µs an
// admission before, 2 and 1.6 µs after (0 once waiters were reused).

// A changeNotifier is a Limit that can signal a channel of the caller's
// on its next change, as closing Changed would, without making a channel
// for each change. The gate's Semaphore and AdaptiveLimit are.
type changeNotifier interface {
	// notifyOnChange sends on ch, without blocking, at the next change
	// (a release, a new limit), then forgets it.
	notifyOnChange(ch chan struct{})
}

// passOn readies the caller now at the front of the line, after the one
// before it was admitted at now: it wakes it when the limits would admit
// it or when only it can wait for them (a time, a pause), and otherwise
// leaves it asleep, to be woken by the refusing limit's next change. What
// it takes to ask the limits it gives back. g.mu is held.
func (g *Gate) passOn(now time.Time, from int) {
	w := g.waiters.front()
	if w == nil {
		return
	}
	if g.shared != nil || g.asking {
		g.wakeFront()
		return
	}
	var buf [8]int64
	marks := buf[:]
	if len(g.limits) > len(buf) {
		marks = make([]int64, len(g.limits))
	}
	wait, refused := g.try(w.cost, now, 0, marks, from)
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
		wait, again = g.try(w.cost, now, 0, marks, from)
		if wait == waitForChange && again == refused {
			return // asleep until the limit changes
		}
	}
	if wait == 0 {
		for j := len(g.limits) - 1; j >= from; j-- {
			g.limits[j].Untake(w.cost, marks[j])
		}
	}
	g.wakeFront()
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
