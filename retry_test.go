package sluice

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"
)

func TestBackoffIsFullJitterUnderAGrowingCeiling(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Cap: time.Second}
	for n, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 60: time.Second} {
		var sum, most time.Duration
		for range 2000 {
			d := b.Delay(n)
			if d < 0 || d > ceiling {
				t.Fatalf("retry %d waited %v, outside [0, %v]", n, d, ceiling)
			}
			sum += d
			most = max(most, d)
		}
		// Full jitter: uniform, so the mean is near half the ceiling and
		// the largest near the ceiling.
		if mean := sum / 2000; mean < ceiling*4/10 || mean > ceiling*6/10 || most < ceiling*9/10 {
			t.Errorf("retry %d: mean %v, largest %v; want uniform on [0, %v]", n, mean, most, ceiling)
		}
	}
	if d := (Backoff{}).Delay(1); d > 500*time.Millisecond {
		t.Errorf("default first retry waited %v, over 500ms", d)
	}
}

func TestRetryBudgetAllowsAFractionPlusAFloor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &RetryBudget{Ratio: 0.1, Floor: 3, Window: 10 * time.Second}
		for range 100 {
			b.Attempt()
		}
		got := 0
		for b.Retry() {
			got++
		}
		if got != 13 {
			t.Fatalf("100 attempts earned %d retries, want 10 + a floor of 3", got)
		}
		time.Sleep(11 * time.Second) // the window slides past all of it
		got = 0
		for b.Retry() {
			got++
		}
		if got != 3 {
			t.Fatalf("a fresh window allowed %d retries, want the floor of 3", got)
		}
	})
}

func TestRetryPolicyDo(t *testing.T) {
	tests := []struct {
		name         string
		classes      []Class
		policy       RetryPolicy
		wantAttempts int
		wantClass    Class
	}{
		{"ok at once", []Class{ClassOK}, RetryPolicy{}, 1, ClassOK},
		{"transient then ok", []Class{ClassTransient, ClassOverloaded, ClassThrottled, ClassOK}, RetryPolicy{}, 4, ClassOK},
		{"fatal is final", []Class{ClassFatal, ClassOK}, RetryPolicy{}, 1, ClassFatal},
		{"canceled is final", []Class{ClassCanceled, ClassOK}, RetryPolicy{}, 1, ClassCanceled},
		{"max attempts", []Class{ClassTransient, ClassTransient, ClassTransient, ClassOK}, RetryPolicy{MaxAttempts: 3}, 3, ClassTransient},
		{"default max attempts", repeat(ClassTransient, 20), RetryPolicy{}, 9, ClassTransient},
		{"max elapsed", repeat(ClassTransient, 20), RetryPolicy{MaxElapsed: time.Second, Backoff: Backoff{Base: time.Second, Cap: time.Second}}, 0, ClassTransient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := NewGate()
				calls := 0
				o, attempts, _ := tt.policy.Do(t.Context(), g, Cost{}, func(context.Context) (Outcome, error) {
					calls++
					return Outcome{Class: tt.classes[calls-1]}, nil
				})
				if tt.wantAttempts > 0 && attempts != tt.wantAttempts {
					t.Errorf("%d attempts, want %d", attempts, tt.wantAttempts)
				}
				if attempts != calls || o.Class != tt.wantClass {
					t.Errorf("%d attempts, %d calls, last %v; want last %v", attempts, calls, o.Class, tt.wantClass)
				}
				if s := g.Stats(); s.Admitted != int64(calls) || s.InFlight != 0 {
					t.Errorf("gate %+v: every attempt must go through it and be done", s)
				}
			})
		})
	}
}

func repeat(c Class, n int) []Class {
	cs := make([]Class, n)
	for i := range cs {
		cs[i] = c
	}
	return cs
}

func TestRetryPolicyOverloadedBacksOffLonger(t *testing.T) {
	p := RetryPolicy{Backoff: Backoff{Base: time.Second, Cap: time.Minute}}
	var transient, overloaded time.Duration
	for range 1000 {
		transient += p.delay(3, Outcome{Class: ClassTransient})
		overloaded += p.delay(3, Outcome{Class: ClassOverloaded})
	}
	if overloaded < 3*transient {
		t.Errorf("overloaded waits %v in all, transient %v: want about 4x", overloaded, transient)
	}
}

func TestRetryPolicyQuotaExhaustedHaltsTheGate(t *testing.T) {
	g := NewGate()
	apiErr := errors.New("insufficient_quota: You exceeded your current quota")
	p := RetryPolicy{}
	_, attempts, err := p.Do(context.Background(), g, Cost{}, func(context.Context) (Outcome, error) {
		return Outcome{Class: ClassQuotaExhausted}, apiErr
	})
	if attempts != 1 || err != apiErr {
		t.Fatalf("Do = %d attempts, %v", attempts, err)
	}
	_, err = g.Acquire(context.Background(), Cost{})
	if !errors.Is(err, ErrQuotaExhausted) || !errors.Is(err, apiErr) {
		t.Fatalf("Acquire after quota exhausted = %v", err)
	}
}

func TestRetryPolicyBudgetStopsRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := RetryPolicy{Budget: &RetryBudget{Ratio: 0.5, Floor: 1}}
		g := NewGate()
		total := 0
		for range 10 {
			_, attempts, _ := p.Do(t.Context(), g, Cost{}, func(context.Context) (Outcome, error) {
				return Outcome{Class: ClassTransient}, nil
			})
			total += attempts
		}
		if total > 10+1+5 {
			t.Fatalf("10 items failing for good made %d attempts, more than 10 + 1 + 50%%", total)
		}
		_, _, err := p.Do(t.Context(), g, Cost{}, func(context.Context) (Outcome, error) {
			return Outcome{Class: ClassTransient}, nil
		})
		if !errors.Is(err, ErrRetryBudget) {
			t.Fatalf("Do with the budget spent = %v, want ErrRetryBudget", err)
		}
	})
}

func TestRetryPolicyCancelWhileBackingOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Cancelled, not timed out: a backoff that would outlast a
		// deadline is not begun at all (retry_halt_test.go).
		ctx, cancel := context.WithCancel(t.Context())
		defer time.AfterFunc(time.Second, cancel).Stop()
		p := RetryPolicy{Backoff: Backoff{Base: time.Hour, Cap: time.Hour}}
		g := NewGate()
		begin := time.Now()
		_, _, err := p.Do(ctx, g, Cost{}, func(context.Context) (Outcome, error) {
			return Outcome{Class: ClassTransient}, nil
		})
		if err != context.Canceled || time.Since(begin) > time.Second {
			t.Fatalf("Do = %v after %v", err, time.Since(begin))
		}
	})
}

func TestRetryPolicyDoWithoutAGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		o, attempts, err := RetryPolicy{Backoff: Backoff{Base: time.Millisecond}}.Do(t.Context(), nil, Cost{}, func(context.Context) (Outcome, error) {
			calls++
			if calls < 3 {
				return Outcome{Class: ClassTransient}, nil
			}
			return Outcome{}, nil
		})
		if o.Class != ClassOK || attempts != 3 || err != nil {
			t.Fatalf("Do with a nil gate = %v, %d, %v; want ok after 3 attempts", o.Class, attempts, err)
		}
	})
}

// A Cap of math.MaxInt64, "no cap", gives a wait like any other: the
// ceiling plus one overflowed, and rand.Int64N panicked inside
// RetryPolicy.Do and Transport.RoundTrip.
func TestBackoffLargestCapDoesNotPanic(t *testing.T) {
	b := Backoff{Base: time.Second, Cap: math.MaxInt64}
	for n := range 70 {
		if d := b.Delay(n); d < 0 {
			t.Fatalf("Delay(%d) = %v; want 0 or more", n, d)
		}
	}
}
