package sluice

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// A 429 with Retry-After pauses the gate before its call lets go of its
// slot: the caller waiting for that slot is admitted after the cool-down,
// not in the instant between (a CI run of sluice mcp's test saw the next
// call to a paused host go at once).
func TestThrottledCallPausesBeforeItsSlotIsHandedOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := Limits{Concurrency: 1, FixedConcurrency: true}.NewGate()
		first, err := g.Acquire(context.Background(), Cost{})
		if err != nil {
			t.Fatal(err)
		}
		admitted := make(chan time.Time, 1)
		go func() {
			p, err := g.Acquire(context.Background(), Cost{})
			if err != nil {
				t.Error(err)
				return
			}
			admitted <- time.Now()
			p.Done(Outcome{})
		}()
		synctest.Wait() // the second waits for the slot
		begin := time.Now()
		first.Done(Outcome{Class: ClassThrottled, RateLimit: &RateLimitInfo{HasRetryAfter: true, RetryAfter: time.Second}})
		if at := <-admitted; at.Sub(begin) < time.Second {
			t.Errorf("the waiting call was admitted %v after the 429, inside its 1s cool-down", at.Sub(begin))
		}
	})
}
