package sluice

import (
	"context"
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
