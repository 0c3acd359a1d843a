package sluice

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// deadlineOnly says a deadline it does not end at: a proxy's request
// context ends at a timer of its own, which may fire a moment after the
// gate woke the caller.
type deadlineOnly struct {
	context.Context
	at time.Time
}

func (c deadlineOnly) Deadline() (time.Time, bool) { return c.at, true }

// A caller woken for a slot after its deadline leaves with nothing taken:
// the slot and the unit of rate go to the next caller, at once.
func TestACallerWokenPastItsDeadlineTakesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(NewSemaphore(1), NewRateLimiter(PerSecond(1), 1))
		holder, err := g.Acquire(t.Context(), Cost{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // the rate's next unit is due now
		ctx := deadlineOnly{t.Context(), time.Now().Add(2 * time.Second)}
		got := make(chan error, 1)
		go func() {
			p, err := g.Acquire(ctx, Cost{})
			if err == nil {
				p.Done(Outcome{})
			}
			got <- err
		}()
		time.Sleep(3 * time.Second) // past the waiter's deadline
		holder.Done(Outcome{})
		if err := <-got; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a caller woken past its deadline: %v, want context.DeadlineExceeded", err)
		}
		start := time.Now()
		p, err := g.Acquire(t.Context(), Cost{})
		if err != nil {
			t.Fatal(err)
		}
		p.Done(Outcome{})
		if waited := time.Since(start); waited != 0 {
			t.Errorf("the next caller waited %v: the late one took the slot or the rate", waited)
		}
	})
}
