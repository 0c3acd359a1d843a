package sluice

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// waitTimes runs n goroutines that each Wait for one unit and returns when,
// counted from the start, each wait ended, in order.
func waitTimes(t *testing.T, wait func(context.Context) error, n int) []time.Duration {
	t.Helper()
	begin := time.Now()
	var mu sync.Mutex
	var got []time.Duration
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := wait(t.Context()); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, time.Since(begin))
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(got)
	return got
}

func TestRateLimiterSpacesStartsEvenly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateLimiter(PerSecond(10), 1)
		got := waitTimes(t, func(ctx context.Context) error { return l.Wait(ctx, 1) }, 25)
		for i, d := range got {
			if want := time.Duration(i) * 100 * time.Millisecond; d != want {
				t.Errorf("start %d at %v, want %v", i, d, want)
			}
		}
	})
}

func TestRateLimiterAllowBurstAndRefill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateLimiter(PerSecond(10), 5)
		for i := range 5 {
			if !l.Allow() {
				t.Fatalf("Allow %d of a burst of 5 refused", i+1)
			}
		}
		if l.Allow() {
			t.Fatal("Allow beyond the burst admitted")
		}
		time.Sleep(99 * time.Millisecond)
		if l.Allow() {
			t.Fatal("admitted before one interval passed")
		}
		time.Sleep(time.Millisecond)
		if !l.Allow() {
			t.Fatal("refused after one interval")
		}
		time.Sleep(time.Second) // refills to the burst, no further
		for i := range 5 {
			if !l.Allow() {
				t.Fatalf("Allow %d after a quiet second refused", i+1)
			}
		}
		if l.Allow() {
			t.Fatal("a quiet spell let the bucket grow past its burst")
		}
	})
}

func TestRateLimiterWeights(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateLimiter(PerSecond(10), 5)
		if !l.AllowN(3) || l.AllowN(3) || !l.AllowN(2) {
			t.Fatal("weights 3, 3, 2 against a burst of 5: want yes, no, yes")
		}
		time.Sleep(300 * time.Millisecond)
		if !l.AllowN(3) || l.AllowN(1) {
			t.Fatal("after 3 intervals want exactly 3 units")
		}
	})
}

func TestRateLimiterOversizeRunsWhenFullAndLeavesDebt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateLimiter(PerSecond(10), 5)
		if !l.AllowN(1) {
			t.Fatal("first unit refused")
		}
		if l.AllowN(20) {
			t.Fatal("oversize request admitted while the bucket was not full")
		}
		time.Sleep(100 * time.Millisecond)
		if !l.AllowN(20) {
			t.Fatal("oversize request refused with a full bucket")
		}
		// The debt: 20 units at 10/s, minus the 5 the bucket held.
		begin := time.Now()
		if err := l.Wait(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		if got, want := time.Since(begin), 2*time.Second-400*time.Millisecond; got != want {
			t.Errorf("next unit waited %v, want %v", got, want)
		}
	})
}

func TestRateLimiterNeverExceedsNInAnyWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := Rate{N: 7, Per: time.Second}
		l := NewRateLimiter(r, 1)
		rng := rand.New(rand.NewPCG(1, 2))
		var starts []time.Duration
		begin := time.Now()
		for range 3000 {
			time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
			if l.Allow() {
				starts = append(starts, time.Since(begin))
			}
		}
		assertWindows(t, starts, 7, time.Second)
		if len(starts) < 100 {
			t.Fatalf("only %d starts admitted", len(starts))
		}
	})
}

// assertWindows fails if any half-open window of length per holds more than
// n of the sorted starts.
func assertWindows(t *testing.T, starts []time.Duration, n int, per time.Duration) {
	t.Helper()
	for i := range starts {
		j := i
		for j < len(starts) && starts[j] < starts[i]+per {
			j++
		}
		if j-i > n {
			t.Fatalf("%d starts in the window [%v, %v): %v", j-i, starts[i], starts[i]+per, starts[i:j])
		}
	}
}

func TestRateLimiterSetRateMidWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateLimiter(PerSecond(1), 1)
		l.Allow()
		done := make(chan time.Duration, 3)
		begin := time.Now()
		for range 3 {
			go func() {
				if err := l.Wait(t.Context(), 1); err != nil {
					t.Error(err)
				}
				done <- time.Since(begin)
			}()
			synctest.Wait() // queue them in a known order
		}
		time.Sleep(500 * time.Millisecond)
		// Waiters are due at 1s, 2s and 3s. Ten times faster from 0.5s on:
		// what was 0.5s, 1.5s and 2.5s ahead becomes 50ms, 150ms, 250ms.
		l.SetRate(PerSecond(10))
		want := []time.Duration{550 * time.Millisecond, 650 * time.Millisecond, 750 * time.Millisecond}
		for i, w := range want {
			if got := <-done; got != w {
				t.Errorf("waiter %d done at %v, want %v", i, got, w)
			}
		}
		// The pace holds on: the next unit is one new interval later.
		if l.Allow() {
			t.Error("admitted at 750ms; the next unit is due at 850ms")
		}
		time.Sleep(100 * time.Millisecond)
		if !l.Allow() {
			t.Error("refused one interval after the last waiter")
		}
	})
}

func TestRateLimiterSetRateSlower(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateLimiter(PerSecond(10), 1)
		l.Allow()
		begin := time.Now()
		done := make(chan time.Duration, 1)
		go func() {
			l.Wait(t.Context(), 1)
			done <- time.Since(begin)
		}()
		synctest.Wait()
		l.SetRate(PerSecond(1)) // 100ms ahead becomes 1s ahead
		if got := <-done; got != time.Second {
			t.Errorf("waiter done at %v, want 1s", got)
		}
	})
}

func TestRateLimiterCancelledWaitGivesUnitsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateLimiter(PerSecond(1), 1)
		l.Allow()
		ctx, cancel := context.WithCancel(t.Context()) // not a deadline: one too soon fails at once
		time.AfterFunc(300*time.Millisecond, cancel)
		if err := l.Wait(ctx, 1); err != context.Canceled {
			t.Fatalf("Wait = %v, want Canceled", err)
		}
		// Had the cancelled waiter kept its unit, the next would wait until 2s.
		begin := time.Now()
		l.Wait(t.Context(), 1)
		if got := time.Since(begin); got != 700*time.Millisecond {
			t.Errorf("next waiter waited %v, want 700ms", got)
		}
	})
}

func TestReservationCancelNeverFreesUnitsQueuedBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateLimiter(PerSecond(1), 1)
		a, b, c := l.Reserve(1), l.Reserve(1), l.Reserve(1)
		if a.Delay() != 0 || b.Delay() != time.Second || c.Delay() != 2*time.Second {
			t.Fatalf("delays %v %v %v, want 0s 1s 2s", a.Delay(), b.Delay(), c.Delay())
		}
		b.Cancel() // c stays at 2s; b's slot cannot be handed out again
		d := l.Reserve(1)
		if d.Delay() != 3*time.Second {
			t.Errorf("after cancelling a middle reservation, next is due in %v, want 3s", d.Delay())
		}
		d.Cancel() // the last one: all of it comes back
		if e := l.Reserve(1); e.Delay() != 3*time.Second {
			t.Errorf("after cancelling the last reservation, next is due in %v, want 3s", e.Delay())
		}
	})
}

func TestReservationSpentCannotBeCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateLimiter(PerSecond(1), 1)
		r := l.Reserve(1)
		time.Sleep(time.Millisecond)
		r.Cancel()
		if l.Allow() {
			t.Error("cancelling a reservation after its time gave the unit back")
		}
	})
}

func TestZeroRateLimiterHasNoLimit(t *testing.T) {
	var l RateLimiter
	for range 1000 {
		if !l.Allow() {
			t.Fatal("zero RateLimiter refused")
		}
	}
	if d := l.Reserve(5).Delay(); d != 0 {
		t.Fatalf("zero RateLimiter reservation delay %v", d)
	}
	synctest.Test(t, func(t *testing.T) {
		var l RateLimiter
		l.SetRate(PerSecond(1))
		if !l.Allow() || l.Allow() {
			t.Fatal("zero RateLimiter after SetRate(1/s): want one admission")
		}
		l.SetRate(Rate{})
		if !l.AllowN(100) {
			t.Fatal("SetRate(zero) did not lift the limit")
		}
	})
}

func TestRateLimiterConcurrentAllowIsExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateLimiter(PerSecond(100), 50)
		var mu sync.Mutex
		admitted := 0
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 1000 {
					if l.Allow() {
						mu.Lock()
						admitted++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		if admitted != 50 {
			t.Errorf("8 goroutines admitted %d at one instant, want the burst of 50", admitted)
		}
	})
}

func TestRateLimiterForgivesTimerLag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateLimiter(PerSecond(10), 1)
		l.Allow()
		time.Sleep(101 * time.Millisecond) // due at 100ms, woken 1ms late
		if wait, _ := l.takeN(1, time.Time{}, time.Millisecond); wait != 0 {
			t.Fatalf("refused a late waiter: wait %v", wait)
		}
		// The schedule holds: the next unit is due at 200ms, not 201ms.
		if wait, _ := l.takeN(1, time.Time{}, 0); wait != 99*time.Millisecond {
			t.Fatalf("next due in %v, want 99ms", wait)
		}
		// Lag beyond maxLate is not forgiven: the pace never runs ahead
		// by more than that.
		time.Sleep(time.Second)
		l.takeN(1, time.Time{}, time.Hour)
		if wait, _ := l.takeN(1, time.Time{}, 0); wait != 100*time.Millisecond-maxLate {
			t.Fatalf("after a long lag, next due in %v, want %v", wait, 100*time.Millisecond-maxLate)
		}
	})
}

// A weight of zero or less asks for nothing: it is admitted at once and
// leaves every limiter as it was, instead of blocking it for decades
// (RateLimiter) or adding capacity (SlidingWindow).
func TestLimitersTreatNegativeWeightsAsZero(t *testing.T) {
	type limiter interface {
		Allow() bool
		AllowN(int) bool
		Reserve(int) *Reservation
		Wait(context.Context, int) error
	}
	for _, tc := range []struct {
		name string
		new  func() limiter
		n    int // how many single units a fresh one admits at once
	}{
		{"RateLimiter", func() limiter { return NewRateLimiter(PerSecond(10), 3) }, 3},
		{"SlidingWindow", func() limiter { return NewSlidingWindow(PerSecond(3)) }, 3},
		{"TokenBudget", func() limiter { return tokenLimiter{NewTokenBudget(PerSecond(3), AllTokens)} }, 3},
	} {
		for _, weight := range []int{0, -1, -5, math.MinInt} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, weight), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					l := tc.new()
					if !l.AllowN(weight) {
						t.Errorf("AllowN(%d) = false, want true", weight)
					}
					if d := l.Reserve(weight).Delay(); d != 0 {
						t.Errorf("Reserve(%d).Delay() = %v, want 0", weight, d)
					}
					if err := l.Wait(t.Context(), weight); err != nil {
						t.Errorf("Wait(%d) = %v, want nil", weight, err)
					}
					got := 0
					for l.Allow() && got < 100 {
						got++
					}
					if got != tc.n {
						t.Errorf("after weight %d, %d admitted at once, want %d", weight, got, tc.n)
					}
				})
			})
		}
	}
}

// tokenLimiter gives a TokenBudget the Allow of the other limiters.
type tokenLimiter struct{ *TokenBudget }

func (b tokenLimiter) Allow() bool { return b.AllowN(1) }

// The theoretical arrival time saturates: reservations of absurd weights,
// or at a rate slower than one per 73 years, never wrap it round so that
// everything is admitted.
func TestRateLimiterTimelineSaturates(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    func() *RateLimiter
		n    int
	}{
		{"huge weights", func() *RateLimiter { return NewRateLimiter(PerSecond(1), 1) }, math.MaxInt},
		{"huge weights with a burst", func() *RateLimiter { return NewRateLimiter(PerSecond(1), 1000) }, math.MaxInt / 2},
		{"one per century", func() *RateLimiter { return NewRateLimiter(Rate{N: 1, Per: 100 * 365 * 24 * time.Hour}, 1) }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := tc.l()
				for i := range 10 {
					l.Reserve(tc.n)
					if l.Allow() {
						t.Fatalf("after %d reservations, Allow admitted", i+1)
					}
				}
			})
		})
	}
}

// A wait whose deadline cannot be met fails at once and takes nothing, so
// the callers behind it are not held up.
func TestWaitFailsAtOnceWhenTheDeadlineIsTooSoon(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func() (take func() bool, wait func(context.Context) error)
	}{
		{"RateLimiter", func() (func() bool, func(context.Context) error) {
			l := NewRateLimiter(PerSecond(10), 1)
			return l.Allow, func(ctx context.Context) error { return l.Wait(ctx, 1) }
		}},
		{"SlidingWindow", func() (func() bool, func(context.Context) error) {
			w := NewSlidingWindow(Rate{N: 1, Per: 100 * time.Millisecond})
			return w.Allow, func(ctx context.Context) error { return w.Wait(ctx, 1) }
		}},
		{"TokenBudget", func() (func() bool, func(context.Context) error) {
			b := NewTokenBudget(Rate{N: 10, Per: time.Second}, AllTokens)
			return func() bool { return b.AllowN(10) }, func(ctx context.Context) error { return b.Wait(ctx, 1) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				take, wait := tc.new()
				if !take() {
					t.Fatal("a fresh limiter refused")
				}
				begin := time.Now()
				ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
				defer cancel()
				err := wait(ctx)
				if !errors.Is(err, ErrWouldExceedDeadline) || !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Wait with a 50ms deadline = %v, want ErrWouldExceedDeadline", err)
				}
				if d := time.Since(begin); d != 0 {
					t.Errorf("the doomed Wait returned after %v, want at once", d)
				}
				if err := wait(t.Context()); err != nil {
					t.Fatal(err)
				}
				if got, want := time.Since(begin), 100*time.Millisecond; got != want {
					t.Errorf("the caller behind was admitted at %v, want %v", got, want)
				}
				// A deadline that can be met is waited for.
				ctx, cancel = context.WithTimeout(t.Context(), 150*time.Millisecond)
				defer cancel()
				if err := wait(ctx); err != nil {
					t.Errorf("Wait with a deadline after the admission = %v, want nil", err)
				}
			})
		})
	}
}

// A front waiter refused after a late wake-up must be told the wait from
// the real now: counted from the forgiven time, it slept its lag twice.
func TestRefusedLateTakeWaitsFromTheRealNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateLimiter(PerSecond(10), 1)
		if wait, _ := l.takeN(1, time.Time{}, 0); wait != 0 {
			t.Fatalf("first take refused for %v", wait)
		}
		time.Sleep(50 * time.Millisecond)
		if wait, _ := l.takeN(1, time.Time{}, 3*time.Millisecond); wait != 50*time.Millisecond {
			t.Errorf("refused take 3ms late: wait %v, want 50ms (the next start is 50ms from now)", wait)
		}
	})
}

// mulSat saturates at maxSpan without dividing; check it against exact
// arithmetic at the edges.
func TestMulSatSaturatesExactly(t *testing.T) {
	vals := []int64{math.MinInt64, -1, 0, 1, 2, 3, 1e9, math.MaxInt32, 1 << 32, maxSpan / 3, maxSpan/2 + 1, maxSpan - 1, maxSpan, maxSpan + 1, math.MaxInt64}
	for _, a := range vals {
		for _, b := range vals {
			want := int64(0)
			if a > 0 && b > 0 {
				p := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
				want = maxSpan
				if p.Cmp(big.NewInt(maxSpan)) <= 0 {
					want = p.Int64()
				}
			}
			if got := mulSat(a, b); got != want {
				t.Errorf("mulSat(%d, %d) = %d, want %d", a, b, got, want)
			}
		}
	}
}

// delayTo charges what the timeline lacked when it was read: a take made
// since stays charged on top, not swallowed by the delay (learn.go reads
// the timeline, counts the calls, then delays).
func TestRateLimiterDelayKeepsTakesMadeSinceOnTop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateLimiter(PerSecond(10), 1)
		from := l.timeline()
		if !l.Allow() {
			t.Fatal("a fresh limiter refused")
		}
		begin := time.Now()
		l.delayTo(begin.Add(300*time.Millisecond), from)
		if err := l.Wait(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		if got, want := time.Since(begin), 400*time.Millisecond; got != want {
			t.Errorf("the next start came after %v, want %v: the delay and the take since", got, want)
		}
	})
}
