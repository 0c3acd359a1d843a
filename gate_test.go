package sluice

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestGateAdmitsOnlyWhenAllLimitsAdmit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sem := NewSemaphore(2)
		rate := NewRateLimiter(PerSecond(10), 1)
		g := NewGate(sem, rate)
		begin := time.Now()
		var times []time.Duration
		var permits []*Permit
		for range 4 {
			p, err := g.Acquire(t.Context(), Cost{})
			if err != nil {
				t.Fatal(err)
			}
			times = append(times, time.Since(begin))
			permits = append(permits, p)
			if len(permits) == 2 {
				// Both slots held: the third waits for a release even
				// though rate is available by then.
				first, second := permits[0], permits[1] // permits grows meanwhile
				go func() {
					time.Sleep(time.Second)
					first.Done(Outcome{})
					second.Done(Outcome{})
				}()
			}
		}
		// Slots free at 1.1s (released a second after the second call);
		// the fourth call then waits for rate, not for a slot.
		want := []time.Duration{0, 100 * time.Millisecond, 1100 * time.Millisecond, 1200 * time.Millisecond}
		for i := range want {
			if times[i] != want[i] {
				t.Errorf("call %d admitted at %v, want %v", i, times[i], want[i])
			}
		}
	})
}

func TestGateWaitingForRateHoldsNoConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sem := NewSemaphore(5)
		rate := NewRateLimiter(PerSecond(1), 1)
		g := NewGate(rate, sem)
		p, _ := g.Acquire(t.Context(), Cost{})
		for range 3 {
			go func() {
				if p, err := g.Acquire(t.Context(), Cost{}); err == nil {
					p.Done(Outcome{})
				}
			}()
		}
		synctest.Wait()
		if sem.Held() != 1 {
			t.Fatalf("semaphore holds %d while 3 calls wait for rate, want 1 (the admitted call)", sem.Held())
		}
		if s := g.Stats(); s.Waiting != 3 || s.InFlight != 1 {
			t.Fatalf("stats %+v, want 3 waiting and 1 in flight", s)
		}
		// And the slot is free for direct users while they wait.
		if !sem.TryAcquire(4) {
			t.Fatal("slots were held by calls waiting for rate")
		}
		sem.Release(4)
		p.Done(Outcome{})
	})
}

func TestGateCancelledCallConsumesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sem := NewSemaphore(1)
		rate := NewRateLimiter(PerSecond(10), 1)
		tokens := NewTokenBudget(PerSecond(1000), AllTokens)
		g := NewGate(sem, rate, tokens)
		p, _ := g.Acquire(t.Context(), Cost{InputTokens: 100})
		// Rate and tokens are ready after 100ms; the slot never is.
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := g.Acquire(ctx, Cost{InputTokens: 900}); err != context.DeadlineExceeded {
			t.Fatalf("Acquire = %v, want DeadlineExceeded", err)
		}
		if sem.Held() != 1 {
			t.Fatalf("semaphore holds %d, want 1", sem.Held())
		}
		if !rate.Allow() {
			t.Fatal("the cancelled call consumed rate")
		}
		if !tokens.AllowN(1000) {
			t.Fatal("the cancelled call consumed tokens")
		}
		if g.Stats().Waiting != 0 {
			t.Fatal("the cancelled call is still queued")
		}
		p.Done(Outcome{})
	})
}

func TestGateRefusedByOneLimitGivesBackTheOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rate := NewRateLimiter(PerSecond(10), 1)
		window := NewSlidingWindow(Rate{N: 100, Per: time.Second})
		tokens := NewTokenBudget(PerSecond(100), AllTokens)
		g := NewGate(rate, window, tokens)
		tokens.AllowN(100) // empty the bucket: the next call waits on tokens
		begin := time.Now()
		p, err := g.Acquire(t.Context(), Cost{InputTokens: 50})
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Since(begin); got != 500*time.Millisecond {
			t.Errorf("admitted after %v, want 500ms", got)
		}
		p.Done(Outcome{})
		// Every refusal while waiting gave back the rate and the window.
		if window.Count() != 1 {
			t.Errorf("window counts %d starts, want 1", window.Count())
		}
		if rate.Allow() {
			t.Error("rate unit available right after admission: the admission took none")
		}
		time.Sleep(100 * time.Millisecond)
		if !rate.Allow() {
			t.Error("refused attempts kept rate units")
		}
	})
}

func TestGateServesByPriorityThenArrival(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(NewSemaphore(1))
		first, _ := g.Acquire(t.Context(), Cost{})
		got := make(chan int, 5)
		for i, prio := range []int{0, 2, 0, 2, 1} {
			ctx := WithPriority(t.Context(), prio)
			go func() {
				p, err := g.Acquire(ctx, Cost{})
				if err != nil {
					t.Error(err)
					return
				}
				got <- i
				p.Done(Outcome{})
			}()
			synctest.Wait()
		}
		first.Done(Outcome{})
		for _, want := range []int{1, 3, 4, 0, 2} {
			if i := <-got; i != want {
				t.Fatalf("admitted %d, want %d", i, want)
			}
		}
	})
}

func TestGatePauseAndExtend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(NewRateLimiter(PerSecond(100), 1))
		begin := time.Now()
		g.PauseUntil(begin.Add(2 * time.Second))
		g.PauseUntil(begin.Add(time.Second)) // earlier: no change
		admitted := make(chan time.Duration, 2)
		go func() {
			p, _ := g.Acquire(t.Context(), Cost{})
			admitted <- time.Since(begin)
			p.Done(Outcome{})
		}()
		time.Sleep(1500 * time.Millisecond)
		g.PauseUntil(begin.Add(3 * time.Second)) // later: extends, for waiting calls too
		go func() {
			p, _ := g.Acquire(t.Context(), Cost{})
			admitted <- time.Since(begin)
			p.Done(Outcome{})
		}()
		if got := <-admitted; got != 3*time.Second {
			t.Errorf("first call admitted at %v, want 3s", got)
		}
		if got := <-admitted; got != 3*time.Second+10*time.Millisecond {
			t.Errorf("second call admitted at %v, want 3.01s", got)
		}
		if !g.PausedUntil().IsZero() {
			t.Errorf("PausedUntil() = %v after the pause ended", g.PausedUntil())
		}
	})
}

func TestGatePauseTakesWallClockTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate()
		// A reset time parsed from a header has no monotonic reading.
		g.PauseUntil(time.Now().Add(time.Second).Round(0))
		begin := time.Now()
		p, _ := g.Acquire(t.Context(), Cost{})
		p.Done(Outcome{})
		if got := time.Since(begin); got != time.Second {
			t.Errorf("waited %v, want 1s", got)
		}
	})
}

func TestPermitDoneSettlesTokensAndReleasesOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sem := NewSemaphore(1)
		in := NewTokenBudget(PerSecond(1000), InputTokens)
		out := NewTokenBudget(PerSecond(1000), OutputTokens)
		g := NewGate(sem, in, out)
		p, _ := g.Acquire(t.Context(), Cost{InputTokens: 300, OutputTokens: 1000})
		p.Done(Outcome{Usage: &Usage{InputTokens: 300, OutputTokens: 200}, Class: ClassThrottled})
		p.Done(Outcome{}) // a second Done does nothing
		if sem.Held() != 0 {
			t.Fatalf("semaphore holds %d after Done", sem.Held())
		}
		if !out.AllowN(800) || out.AllowN(1) {
			t.Fatal("output tokens not settled to the 200 used")
		}
		if !in.AllowN(700) || in.AllowN(1) {
			t.Fatal("input tokens not kept at the 300 used")
		}
		if s := g.Stats(); s.Completed != 1 || s.Throttled != 1 || s.InFlight != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestGateRefundWakesWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tokens := NewTokenBudget(PerSecond(100), AllTokens)
		g := NewGate(tokens)
		p, _ := g.Acquire(t.Context(), Cost{OutputTokens: 100})
		begin := time.Now()
		done := make(chan time.Duration)
		go func() {
			q, _ := g.Acquire(t.Context(), Cost{OutputTokens: 50})
			done <- time.Since(begin)
			q.Done(Outcome{})
		}()
		time.Sleep(100 * time.Millisecond)
		p.Done(Outcome{Usage: &Usage{OutputTokens: 10}}) // 90 back
		if got := <-done; got != 100*time.Millisecond {
			t.Errorf("waiter admitted at %v, want at the refund (100ms)", got)
		}
	})
}

func TestGateSetRateWakesWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rate := NewRateLimiter(PerSecond(1), 1)
		g := NewGate(rate)
		p, _ := g.Acquire(t.Context(), Cost{})
		p.Done(Outcome{})
		begin := time.Now()
		done := make(chan time.Duration)
		go func() {
			q, _ := g.Acquire(t.Context(), Cost{})
			done <- time.Since(begin)
			q.Done(Outcome{})
		}()
		time.Sleep(100 * time.Millisecond)
		rate.SetRate(PerSecond(10)) // 900ms ahead becomes 90ms ahead
		if got := <-done; got != 190*time.Millisecond {
			t.Errorf("waiter admitted at %v, want 190ms", got)
		}
	})
}

func TestGateSharedLimitStaysAllOrNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shared := NewTokenBudget(PerSecond(1000), AllTokens)
		a := NewGate(NewSemaphore(2), shared)
		b := NewGate(NewRateLimiter(PerSecond(10), 1), shared)
		var wg sync.WaitGroup
		var mu sync.Mutex
		spent := 0
		begin := time.Now()
		for i := range 40 {
			g := a
			if i%2 == 1 {
				g = b
			}
			wg.Go(func() {
				p, err := g.Acquire(t.Context(), Cost{InputTokens: 100})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				spent += 100
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
				p.Done(Outcome{})
			})
		}
		wg.Wait()
		// 4000 tokens at 1000/s with a bucket of 1000: at least 3s.
		if got := time.Since(begin); got < 3*time.Second || spent != 4000 {
			t.Errorf("spent %d tokens in %v; want 4000 in at least 3s", spent, got)
		}
	})
}

func TestGateStress(t *testing.T) {
	sem := NewSemaphore(4)
	rate := NewRateLimiter(PerSecond(1e6), 100)
	window := NewSlidingWindow(Rate{N: 1000, Per: time.Millisecond})
	tokens := NewTokenBudget(PerSecond(1e7), AllTokens)
	g := NewGate(sem, rate, window, tokens)
	var mu sync.Mutex
	inFlight, peak, admitted := 0, 0, 0
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for i := range 200 {
				ctx := WithPriority(context.Background(), w%3)
				if i%10 == 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, time.Microsecond)
					defer cancel()
				}
				p, err := g.Acquire(ctx, Cost{InputTokens: 10, OutputTokens: 20})
				if err != nil {
					continue
				}
				mu.Lock()
				inFlight++
				admitted++
				peak = max(peak, inFlight)
				mu.Unlock()
				mu.Lock()
				inFlight--
				mu.Unlock()
				p.Done(Outcome{Usage: &Usage{InputTokens: 10, OutputTokens: 5}})
			}
		})
	}
	wg.Wait()
	s := g.Stats()
	if peak > 4 || sem.Held() != 0 || s.Waiting != 0 || s.InFlight != 0 || int(s.Completed) != admitted {
		t.Fatalf("peak %d (limit 4), held %d, stats %+v, admitted %d", peak, sem.Held(), s, admitted)
	}
	if admitted < 32*180 {
		t.Fatalf("only %d of %d calls admitted", admitted, 32*200)
	}
}

func TestZeroGateAdmitsEverything(t *testing.T) {
	var g Gate
	p, err := g.Acquire(context.Background(), Cost{})
	if err != nil {
		t.Fatal(err)
	}
	p.Done(Outcome{})
}
