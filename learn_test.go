package sluice

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestGateLearnsAPaceFromALimitPerWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate()
		p, _ := g.Acquire(t.Context(), Cost{})
		p.Done(Outcome{RateLimit: &RateLimitInfo{Requests: Quota{Limit: 600, Remaining: 599, Reset: time.Second, Window: time.Minute}}})
		if got, want := g.LearnedRate(), apiSafe(Rate{N: 600, Per: time.Minute}); got != want {
			t.Fatalf("learned %v, want %v", got, want)
		}
		// Paced: the call already made counts, then one every ~101ms.
		begin := time.Now()
		for range 3 {
			q, _ := g.Acquire(t.Context(), Cost{})
			q.Done(Outcome{})
		}
		iv := apiSafe(Rate{N: 600, Per: time.Minute}).Interval()
		if got, want := time.Since(begin), 3*iv; got != want {
			t.Errorf("three calls took %v, want %v", got, want)
		}
	})
}

func TestGateLearnsFromRemainingAndReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate()
		p, _ := g.Acquire(t.Context(), Cost{})
		q, _ := g.Acquire(t.Context(), Cost{}) // in flight: counts against what remains
		p.Done(Outcome{RateLimit: &RateLimitInfo{Requests: Quota{Remaining: 11, Reset: 10 * time.Second}}})
		if got, want := g.LearnedRate(), apiSafe(Rate{N: 10, Per: 10 * time.Second}); got != want {
			t.Fatalf("learned %v, want %v (11 left, 1 in flight, 10s)", got, want)
		}
		q.Done(Outcome{})
	})
}

func TestGateLearnedLimitNeverLoosensTheUsers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(NewRateLimiter(PerSecond(1), 1))
		p, _ := g.Acquire(t.Context(), Cost{})
		p.Done(Outcome{RateLimit: &RateLimitInfo{Requests: Quota{Limit: 1000, Remaining: 999, Window: time.Second}}})
		begin := time.Now()
		q, _ := g.Acquire(t.Context(), Cost{})
		q.Done(Outcome{})
		if got := time.Since(begin); got != time.Second {
			t.Errorf("waited %v; the user's 1/s must hold against a learned 1000/s", got)
		}
	})
}

func TestGateLearnsTokenBudgets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate()
		p, _ := g.Acquire(t.Context(), Cost{})
		p.Done(Outcome{RateLimit: &RateLimitInfo{
			InputTokens:  Quota{Limit: 60000, Remaining: 60000, Window: time.Minute},
			OutputTokens: Quota{Limit: 6000, Remaining: 6000, Window: time.Minute},
		}})
		if got := g.learned.tokens[OutputTokens].Rate(); got != apiSafe(PerMinute(6000)) {
			t.Fatalf("learned output tokens %v", got)
		}
		// The whole learned output budget at once, then a wait.
		q, _ := g.Acquire(t.Context(), Cost{OutputTokens: 6000})
		q.Done(Outcome{})
		begin := time.Now()
		r, _ := g.Acquire(t.Context(), Cost{OutputTokens: 100})
		r.Done(Outcome{})
		if time.Since(begin) < time.Second {
			t.Errorf("waited %v for 100 output tokens after spending the minute's 6000", time.Since(begin))
		}
	})
}

func TestGatePausesAsTheAPIAsks(t *testing.T) {
	tests := []struct {
		name string
		o    Outcome
		want time.Duration
	}{
		{"429 with retry-after", Outcome{Class: ClassThrottled, RateLimit: &RateLimitInfo{RetryAfter: 7 * time.Second, HasRetryAfter: true}}, 7 * time.Second},
		{"529 with retry-after", Outcome{Class: ClassOverloaded, RateLimit: &RateLimitInfo{RetryAfter: 2 * time.Second, HasRetryAfter: true}}, 2 * time.Second},
		{"capped", Outcome{Class: ClassThrottled, RateLimit: &RateLimitInfo{RetryAfter: time.Hour, HasRetryAfter: true}}, 30 * time.Second},
		{"429 with an exhausted quota", Outcome{Class: ClassThrottled, RateLimit: &RateLimitInfo{Tokens: Quota{Remaining: 0, Reset: 4 * time.Second}}}, 4 * time.Second},
		{"ok leaving nothing", Outcome{RateLimit: &RateLimitInfo{Requests: Quota{Remaining: 0, Reset: 3 * time.Second}}}, 3 * time.Second},
		{"ok at full use of a known window", Outcome{RateLimit: &RateLimitInfo{Requests: Quota{Limit: 5, Remaining: 0, Reset: 3 * time.Second, Window: time.Minute}}}, 0},
		{"retry-after on a success is not a pause", Outcome{RateLimit: &RateLimitInfo{RetryAfter: 5 * time.Second, HasRetryAfter: true, Requests: Quota{Remaining: -1}}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := Limits{MaxPause: 30 * time.Second}.NewGate()
				p, _ := g.Acquire(t.Context(), Cost{})
				p.Done(tt.o)
				got := time.Duration(0)
				if until := g.PausedUntil(); !until.IsZero() {
					got = time.Until(until)
				}
				if got != tt.want {
					t.Errorf("paused for %v, want %v", got, tt.want)
				}
			})
		})
	}
}

func TestAPISafeMargin(t *testing.T) {
	tests := []struct{ in, want Rate }{
		{PerSecond(200), Rate{N: 200, Per: 1010 * time.Millisecond}},
		{PerMinute(3000), Rate{N: 3000, Per: time.Minute + 600*time.Millisecond}},
		{Rate{N: 5, Per: 100 * time.Millisecond}, Rate{N: 5, Per: 105 * time.Millisecond}},
		{Rate{}, Rate{}},
	}
	for _, tt := range tests {
		if got := apiSafe(tt.in); got != tt.want {
			t.Errorf("apiSafe(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
