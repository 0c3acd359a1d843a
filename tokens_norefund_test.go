package sluice

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// OpenAI keeps a request's max_tokens charged whatever the answer used:
// refunding the unused part let the next calls spend tokens the API
// still counted, and about half drew 429s. A call that never reached the
// API is still refunded whole.
func TestNoRefundSettlesOnlyUpward(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		admitsAtOnce := func(g *Gate, c Cost) bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			defer cancel()
			p, err := g.Acquire(ctx, c)
			if err != nil {
				return false
			}
			p.Done(Outcome{Usage: &Usage{}, Class: ClassTransient}) // never sent: refunded
			return true
		}
		for _, noRefund := range []bool{false, true} {
			g := NewGate(NewTokenBudget(Rate{N: 100, Per: time.Hour}, OutputTokens))
			c := Cost{OutputTokens: 80, NoRefund: noRefund}
			p, err := g.Acquire(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			p.Done(Outcome{Usage: &Usage{OutputTokens: 10}}) // used 10 of the 80
			if got := admitsAtOnce(g, c); got == noRefund {
				t.Errorf("NoRefund %v: a second call of 80 admitted at once: %v; want %v", noRefund, got, !noRefund)
			}
			// A call that never reached the API is refunded either way:
			// had it kept its 80, the third would wait.
			if !noRefund && !admitsAtOnce(g, c) {
				t.Errorf("NoRefund %v: the never-sent call's tokens were kept", noRefund)
			}
		}
	})
}

// A caller that cannot make its deadline is refused at once, not after
// waiting the deadline out for refunds an API that keeps estimates whole
// (Cost.NoRefund: OpenAI) never gives (outside review: 5s waits, then
// the deadline's error).
func TestNoRefundCallsInFlightAreNotCountedAsRefundable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(NewTokenBudget(PerMinute(3000), AllTokens))
		c := Cost{InputTokens: 3, OutputTokens: 1000, NoRefund: true}
		for range 3 { // three in flight: the bucket spent for a minute
			if _, err := g.Acquire(context.Background(), c); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		begin := time.Now()
		_, err := g.Acquire(ctx, c)
		var we *WaitError
		if !errors.As(err, &we) || time.Since(begin) != 0 {
			t.Errorf("after %v: %v; want a *WaitError at once", time.Since(begin), err)
		}
	})
}
