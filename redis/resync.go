package redis

import (
	"time"

	"github.com/sluicehq/sluice"
)

// After an outage the processes do not come back to Redis together: each
// probes on its own, once per RetryEvery. Meanwhile a process back on
// Redis, which a restarted server lets start afresh, and the others still
// on their local shares would together exceed the limit. So for two
// retry periods after its return a process keeps to its local share as
// well as to Redis: taken first, in memory, and given back if Redis
// refuses. Then the local limits are dropped.

// takeGrace takes c from the local limits while the grace lasts. It
// returns the limits taken and their marks, or the wait they ask.
func (g *shared) takeGrace(c sluice.Cost) ([]sluice.Limit, []int64, time.Duration) {
	g.mu.Lock()
	local, until := g.local, g.graceUntil
	if local != nil && !until.IsZero() && time.Now().After(until) {
		g.local, g.graceUntil = nil, time.Time{}
		local = nil
	}
	g.mu.Unlock()
	if local == nil || until.IsZero() {
		return nil, nil, 0 // no outage behind, or down and probing: the fallback takes them
	}
	marks := make([]int64, len(local))
	for i, l := range local {
		wait, mark := l.Take(c, time.Time{}, 0)
		if wait != 0 {
			untakeAll(local[:i], c, marks)
			if wait == sluice.WaitForChange {
				wait = concurrencyBackstop
			}
			return nil, nil, wait
		}
		marks[i] = mark
	}
	return local, marks, 0
}

// untakeAll gives back what takeGrace or fallback took.
func untakeAll(ls []sluice.Limit, c sluice.Cost, marks []int64) {
	for i := len(ls) - 1; i >= 0; i-- {
		ls[i].Untake(c, marks[i])
	}
}
