package sluice

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// A call estimated at more tokens than a budget holds in a whole period
// was admitted into debt: it ran, and every later call waited out what it
// overdrew (max_tokens 20000 through 10000/m: two minutes; 1e20: hours),
// while the proxy and the Redis store refused it. The Gate now refuses
// it at once, taking nothing, with the numbers.
func TestGateRefusesACostBeyondATokenBudgetAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := Limits{Tokens: PerMinute(10000)}.NewGate()
		begin := time.Now()
		_, err := g.Acquire(t.Context(), Cost{InputTokens: 1, OutputTokens: 20000})
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Acquire of 20001 tokens through 10000/m: %v, want ErrTooLarge", err)
		}
		var e *TooLargeError
		if !errors.As(err, &e) || e.Capacity.Max != 10000 || e.Capacity.Asked(e.Cost) != 20001 || e.Capacity.Units() != "tokens" {
			t.Fatalf("error %#v, want 20001 tokens asked of 10000", err)
		}
		if want := "this call asks 20001 tokens, more than the token budget of 10000/m could ever admit (10000 at most)"; !strings.Contains(err.Error(), want) {
			t.Errorf("message %q, want it to say %q", err, want)
		}
		if c := ClassOf(err); c != ClassFatal {
			t.Errorf("ClassOf = %v, want fatal: asking again asks the same", c)
		}
		// Nothing was taken: the whole budget is there for the next call.
		if _, err := g.Acquire(t.Context(), Cost{OutputTokens: 10000}); err != nil || time.Since(begin) != 0 {
			t.Errorf("the next call of 10000 tokens: %v after %v, want admitted at once", err, time.Since(begin))
		}
	})
}

// Each kind of limit refuses by its own capacity, and a Semaphore keeps
// its documented behaviour: a weight above its limit runs alone.
func TestGateTooLargeByEachLimit(t *testing.T) {
	for _, c := range []struct {
		name    string
		limit   func() Limit
		cost    Cost
		refused bool
	}{
		{"window: more than N", func() Limit { return NewSlidingWindow(PerSecond(3)) }, Cost{Requests: 4}, true},
		{"window: N", func() Limit { return NewSlidingWindow(PerSecond(3)) }, Cost{Requests: 3}, false},
		{"rate: more than a period's", func() Limit { return NewRateLimiter(PerSecond(10), 1) }, Cost{Requests: 11}, true},
		{"rate: above the burst, within a period (a debt, as documented)", func() Limit { return NewRateLimiter(PerSecond(10), 1) }, Cost{Requests: 10}, false},
		{"rate: a burst above the period's count", func() Limit { return NewRateLimiter(PerSecond(10), 20) }, Cost{Requests: 20}, false},
		{"input budget: output tokens do not count", func() Limit { return NewTokenBudget(PerMinute(100), InputTokens) }, Cost{InputTokens: 100, OutputTokens: 1000}, false},
		{"output budget", func() Limit { return NewTokenBudget(PerMinute(100), OutputTokens) }, Cost{InputTokens: 1, OutputTokens: 101}, true},
		{"semaphore: runs alone", func() Limit { return NewSemaphore(2) }, Cost{Requests: 5}, false},
		{"adaptive: runs alone", func() Limit { return NewAdaptiveLimit(1, 2) }, Cost{Requests: 5}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := NewGate(c.limit())
				p, err := g.Acquire(t.Context(), c.cost)
				if refused := errors.Is(err, ErrTooLarge); refused != c.refused || (!refused && err != nil) {
					t.Fatalf("Acquire(%+v): %v, want refused as too large: %v", c.cost, err, c.refused)
				}
				if p != nil {
					p.Done(Outcome{})
				}
			})
		})
	}
}

// The check uses each limit's capacity when Acquire is called: SetRate
// up admits what was too large, SetRate down refuses what fitted.
func TestTooLargeFollowsSetRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewTokenBudget(PerMinute(10000), AllTokens)
		g := NewGate(b)
		if _, err := g.Acquire(t.Context(), Cost{OutputTokens: 15000}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("15000 through 10000/m: %v, want ErrTooLarge", err)
		}
		b.SetRate(PerMinute(20000))
		p, err := g.Acquire(t.Context(), Cost{OutputTokens: 15000})
		if err != nil {
			t.Fatalf("15000 through 20000/m: %v, want admitted", err)
		}
		p.Done(Outcome{})
		b.SetRate(PerMinute(5000))
		if _, err := g.Acquire(t.Context(), Cost{OutputTokens: 8000}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("8000 through 5000/m: %v, want ErrTooLarge", err)
		}
	})
}

// What a gate learned from headers is not a capacity: a pace spreading
// the 500 tokens left until a reset 20 seconds away does not make a call
// of 4000 impossible, only later. It waits; it is not refused.
func TestLearnedPaceDoesNotMakeACallTooLarge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := Limits{Tokens: PerMinute(100000)}.NewGate()
		g.learn(Outcome{RateLimit: &RateLimitInfo{Tokens: Quota{Remaining: 500, Reset: 20 * time.Second}}})
		if g.learned.tokens[AllTokens].Rate().IsZero() {
			t.Fatal("the gate learned no token pace")
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		p, err := g.Acquire(ctx, Cost{OutputTokens: 4000})
		if errors.Is(err, ErrTooLarge) {
			t.Fatalf("Acquire: %v; a learned pace must not refuse a call as too large", err)
		}
		if p != nil {
			p.Done(Outcome{})
		}
	})
}

// A Pool yields a too-large item at once as fatal, its function never
// called, and goes on with the others.
func TestPoolFailsATooLargeItemAndGoesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &Pool[int, int]{Gate: Limits{Tokens: PerMinute(1000)}.NewGate(), Workers: 2,
			Cost: func(n int) Cost { return Cost{OutputTokens: n} }}
		var mu sync.Mutex
		var called []int
		got := map[int]Class{}
		for r := range p.Run(t.Context(), slices.Values([]int{10, 5000, 20}), func(ctx context.Context, n int) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			called = append(called, n)
			return n, nil
		}) {
			got[r.Item] = r.Class
			if r.Item == 5000 && (!errors.Is(r.Err, ErrTooLarge) || r.Attempts != 0) {
				t.Errorf("item 5000: %v after %d attempts, want ErrTooLarge after none", r.Err, r.Attempts)
			}
		}
		if got[10] != ClassOK || got[20] != ClassOK || got[5000] != ClassFatal {
			t.Errorf("classes %v, want 10 and 20 ok, 5000 fatal", got)
		}
		if slices.Contains(called, 5000) {
			t.Error("the function was called for the too-large item")
		}
	})
}

// BenchmarkTooLargeCheck is what every admission with a token cost pays
// for the check, through BenchmarkGate's three limits (concurrency,
// requests, tokens); a cost of one request and no tokens pays nothing.
func BenchmarkTooLargeCheck(b *testing.B) {
	g := NewGate(NewSemaphore(1<<20), NewRateLimiter(PerSecond(1e9), 1e9), NewTokenBudget(PerSecond(1e9), AllTokens))
	c := Cost{InputTokens: 10, OutputTokens: 10}
	b.ReportAllocs()
	for b.Loop() {
		if g.tooLarge(c) != nil {
			b.Fatal("refused")
		}
	}
}
