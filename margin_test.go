package sluice

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// A strict API that still refuses at the given rate (a loaded machine, an
// API whose clock stamps arrivals late) widens the gate's margin: each
// rate 429 adds marginStep to the period, up to 1% of it; a 429 about
// concurrency, or an ordinary answer, widens nothing.
func TestRate429sWidenTheGatesMargin(t *testing.T) {
	synctest.Test(t, testRate429sWidenTheGatesMargin)
}

func testRate429sWidenTheGatesMargin(t *testing.T) {
	g := Limits{Rate: PerSecond(10)}.NewGate()
	base := g.margin.rate.Rate()
	if want := apiSafe(PerSecond(10)); base != want {
		t.Fatalf("the gate's rate is %v, want %v", base, want)
	}
	done := func(o Outcome) {
		p, err := g.Acquire(context.Background(), Cost{})
		if err != nil {
			t.Fatal(err)
		}
		p.Done(o)
	}
	done(Outcome{Class: ClassOK})
	done(Outcome{Class: ClassThrottled, ConcurrencyLimited: true})
	if got := g.margin.rate.Rate(); got != base {
		t.Errorf("after an ordinary answer and a concurrency 429 the rate is %v, want %v", got, base)
	}
	done(Outcome{Class: ClassThrottled})
	if got, want := g.margin.rate.Rate().Per, base.Per+marginStep; got != want {
		t.Errorf("after a rate 429 the period is %v, want %v", got, want)
	}
	for range 20 {
		done(Outcome{Class: ClassThrottled})
	}
	if got, want := g.margin.rate.Rate().Per, base.Per+time.Duration(float64(base.Per)*marginCap); got != want {
		t.Errorf("after 21 rate 429s the period is %v, want %v (1%% more at most)", got, want)
	}
	if first := g.margin.widen(); first {
		t.Error("the 23rd widening says it is the first")
	}
	if n := NewGate(NewRateLimiter(PerSecond(10), 1)); n.margin.widen() {
		t.Error("a gate of the caller's own limits widened a rate it was not given as Limits")
	}
}

// A window given as Limits widens alike, and its first rate 429 cuts no
// pace: a window opens its calls in batches, and a squeezed boundary
// between two batches is the network's, not a wrong number (an outside
// review: --window 10/1s learned 9.24/s from its first 429).
func TestRate429sWidenTheGatesWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := Limits{Window: Rate{N: 10, Per: time.Second}}.NewGate()
		base := g.margin.window.Rate()
		p, err := g.Acquire(context.Background(), Cost{})
		if err != nil {
			t.Fatal(err)
		}
		p.Done(Outcome{Class: ClassThrottled, RateLimit: &RateLimitInfo{HasRetryAfter: true, RetryAfter: time.Second}})
		if got, want := g.margin.window.Rate().Per, base.Per+marginStep; got != want {
			t.Errorf("after a rate 429 the window is %v, want %v", got, want)
		}
		if r := g.LearnedRate(); !r.IsZero() {
			t.Errorf("the first 429 under a given window learned a pace of %v", r)
		}
	})
}
