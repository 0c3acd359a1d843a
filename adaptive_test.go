package sluice

import (
	"testing"
	"testing/synctest"
	"time"
)

// busy fills a's ceiling with n calls admitted now and returns their
// admission time.
func busy(t *testing.T, a *AdaptiveLimit, n int) time.Time {
	t.Helper()
	for range n {
		if w, _ := a.Take(Cost{}, time.Time{}, 0); w != 0 {
			t.Fatalf("take refused with %d in flight, ceiling %d", a.InFlight(), a.Ceiling())
		}
	}
	return time.Now()
}

// release ends n calls admitted at at without a sample.
func release(a *AdaptiveLimit, at time.Time, n int) {
	for range n {
		a.Finish(Cost{}, at, Outcome{Class: ClassCanceled})
	}
}

func TestAdaptiveLimitSlowStartsThenGrowsByOnePerRound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := NewAdaptiveLimit(1, 100)
		if a.Ceiling() != 8 {
			t.Fatalf("starts at %d, want half the top, capped at 8", a.Ceiling())
		}
		if b := NewAdaptiveLimit(1, 10); b.Ceiling() != 5 {
			t.Fatalf("a top of 10 starts at %d, want half of it", b.Ceiling())
		}
		a.ceiling = 1 // as after a collapse: watch it double back
		a.sem.SetLimit(1)
		healthy := Outcome{Latency: 10 * time.Millisecond}
		// Slow start: each healthy call adds one, so each round doubles.
		for _, want := range []int{2, 4, 8, 16} {
			n := a.Ceiling()
			at := busy(t, a, n)
			for range n {
				a.Finish(Cost{}, at, healthy)
			}
			if got := a.Ceiling(); got != want {
				t.Fatalf("after a round of %d healthy calls the ceiling is %d, want %d", n, got, want)
			}
		}
		// A throttled call ends slow start and halves the ceiling.
		at := busy(t, a, 16)
		time.Sleep(time.Millisecond)
		a.Finish(Cost{}, at, Outcome{Class: ClassThrottled})
		if got := a.Ceiling(); got != 8 {
			t.Fatalf("after a 429 the ceiling is %d, want 8", got)
		}
		// Other calls of the same round do not cut it again.
		for range 15 {
			a.Finish(Cost{}, at, Outcome{Class: ClassThrottled})
		}
		if got := a.Ceiling(); got != 8 {
			t.Fatalf("one round of 429s cut the ceiling to %d, want 8", got)
		}
		// Additive increase: one per round of healthy calls.
		for _, want := range []int{9, 10} {
			n := a.Ceiling()
			at := busy(t, a, n)
			for range n {
				a.Finish(Cost{}, at, healthy)
			}
			if got := a.Ceiling(); got != want {
				t.Fatalf("after a healthy round the ceiling is %d, want %d", got, want)
			}
		}
	})
}

func TestAdaptiveLimitStaysWithinBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := NewAdaptiveLimit(2, 5)
		for range 10 {
			n := a.Ceiling()
			at := busy(t, a, n)
			for range n {
				a.Finish(Cost{}, at, Outcome{Latency: time.Millisecond})
			}
		}
		if got := a.Ceiling(); got != 5 {
			t.Fatalf("ceiling %d, want the top of 5", got)
		}
		for range 5 {
			at := busy(t, a, 1)
			time.Sleep(time.Millisecond)
			a.Finish(Cost{}, at, Outcome{Class: ClassOverloaded})
		}
		if got := a.Ceiling(); got != 2 {
			t.Fatalf("ceiling %d after repeated overload, want the floor of 2", got)
		}
		a.SetTop(1)
		if f, top := a.Bounds(); f != 2 || top != 2 {
			t.Fatalf("bounds %d, %d after SetTop below the floor; want 2, 2", f, top)
		}
	})
}

func TestAdaptiveLimitTimeoutsDecrease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := NewAdaptiveLimit(1, 10)
		a.ceiling, a.slowStart = 8, false
		a.sem.SetLimit(8)
		at := busy(t, a, 1)
		time.Sleep(time.Millisecond)
		a.Finish(Cost{}, at, Outcome{Class: ClassTransient, Timeout: true})
		if got := a.Ceiling(); got != 4 {
			t.Fatalf("ceiling %d after a timeout, want 4", got)
		}
	})
}

func TestAdaptiveLimitIgnoresNonSamples(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := NewAdaptiveLimit(1, 10)
		for _, o := range []Outcome{
			{Class: ClassCanceled, Latency: time.Millisecond},
			{Class: ClassFatal, Latency: time.Millisecond},
			{Class: ClassTransient, Latency: time.Millisecond},
		} {
			at := busy(t, a, 1)
			a.Finish(Cost{}, at, o)
		}
		if got := a.Ceiling(); got != 5 {
			t.Fatalf("ceiling %d after non-samples, want the start of 5", got)
		}
	})
}

func TestAdaptiveLimitGrowsOnlyWhenUsedAndHealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := NewAdaptiveLimit(1, 100)
		a.ceiling, a.slowStart = 20, false
		a.sem.SetLimit(20)
		// One call at a time under a ceiling of 20: no evidence for more.
		for range 100 {
			at := busy(t, a, 1)
			a.Finish(Cost{}, at, Outcome{Latency: time.Millisecond})
		}
		if got := a.Ceiling(); got != 20 {
			t.Fatalf("an unused ceiling grew to %d", got)
		}
		// Latency climbing far above the baseline stops growth.
		for range 40 {
			at := busy(t, a, 20)
			for range 20 {
				a.Finish(Cost{}, at, Outcome{Latency: 50 * time.Millisecond})
			}
		}
		if got := a.Ceiling(); got > 21 {
			t.Fatalf("ceiling grew to %d while latency was 50x the baseline", got)
		}
	})
}

func TestAdaptiveLimitInAGateFollowsTheCeiling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := NewAdaptiveLimit(1, 3) // starts at 1
		g := NewGate(a)
		p, _ := g.Acquire(t.Context(), Cost{})
		if s := g.Stats(); s.InFlight != 1 {
			t.Fatal(s)
		}
		admitted := make(chan struct{})
		go func() {
			q, _ := g.Acquire(t.Context(), Cost{})
			close(admitted)
			q.Done(Outcome{})
		}()
		synctest.Wait()
		select {
		case <-admitted:
			t.Fatal("admitted past a ceiling of 1")
		default:
		}
		p.Done(Outcome{Latency: time.Millisecond}) // grows to 2 and frees a slot
		<-admitted
		if a.Ceiling() != 2 {
			t.Fatalf("ceiling %d, want 2", a.Ceiling())
		}
	})
}

func TestAdaptiveLimitLearnsTheAPIsConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := NewAdaptiveLimit(1, 20) // starts at 10
		at := busy(t, a, 7)
		time.Sleep(time.Millisecond)
		// The API refused the 7th call in flight: it allows 6.
		a.Finish(Cost{}, at, Outcome{Class: ClassThrottled, ConcurrencyLimited: true})
		if got := a.Ceiling(); got != 6 {
			t.Fatalf("ceiling %d, want 6", got)
		}
		if _, top := a.Bounds(); top != 6 {
			t.Fatalf("top %d, want 6", top)
		}
		for range 10 { // healthy rounds do not probe past it
			n := a.InFlight()
			at := busy(t, a, a.Ceiling()-n)
			for range a.Ceiling() {
				a.Finish(Cost{}, at, Outcome{Latency: time.Millisecond})
			}
		}
		if got := a.Ceiling(); got != 6 {
			t.Fatalf("ceiling %d after healthy rounds, want to stay at the learned 6", got)
		}
	})
}

// Calls of one round refused for concurrency each bound the API's limit:
// refused in turn, they release their slots in turn, so the top comes
// down to the limit in one round, not one step per round (each round
// costing more 429s).
func TestAdaptiveLimitLearnsTheConcurrencyInOneRound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := NewAdaptiveLimit(1, 64) // starts at 8
		at := busy(t, a, 8)
		time.Sleep(time.Millisecond)
		// The API allows 5: the 6th, 7th and 8th calls are refused.
		for range 3 {
			a.Finish(Cost{}, at, Outcome{Class: ClassThrottled, ConcurrencyLimited: true})
		}
		if _, top := a.Bounds(); top != 5 {
			t.Fatalf("top %d after three concurrency 429s with 8 in flight, want 5", top)
		}
		if got := a.Ceiling(); got != 5 {
			t.Fatalf("ceiling %d, want 5", got)
		}
	})
}

func TestAdaptiveLimitLearnedTopAndSetTop(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setTop  int // after learning a top of 6 from a top of 20
		wantTop int // right after SetTop
		probed  int // after a quiet period
	}{
		{"raised: the learned top stays", 30, 6, 30},
		{"lowered below the learned top", 4, 4, 4},
		{"lowered above the learned top", 10, 6, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := NewAdaptiveLimit(1, 20)
				at := busy(t, a, 7)
				time.Sleep(time.Millisecond)
				a.Finish(Cost{}, at, Outcome{Class: ClassThrottled, ConcurrencyLimited: true})
				release(a, at, 6)
				a.SetTop(tc.setTop)
				if _, top := a.Bounds(); top != tc.wantTop {
					t.Fatalf("top %d after SetTop(%d), want %d", top, tc.setTop, tc.wantTop)
				}
				// A quiet period: time and calls, none refused.
				time.Sleep(probeQuiet)
				for range probeCalls {
					at := busy(t, a, 1)
					a.Finish(Cost{}, at, Outcome{Latency: time.Millisecond})
				}
				if _, top := a.Bounds(); top != tc.probed {
					t.Fatalf("top %d after a quiet period, want %d", top, tc.probed)
				}
			})
		})
	}
}

// The quiet period needs both time and calls: a minute of few calls says
// little, and many calls in a few seconds probe too often.
func TestAdaptiveLimitProbesOnlyAfterTimeAndCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := NewAdaptiveLimit(1, 20)
		at := busy(t, a, 7)
		time.Sleep(time.Millisecond)
		a.Finish(Cost{}, at, Outcome{Class: ClassThrottled, ConcurrencyLimited: true})
		release(a, at, 6)
		for range 2 * probeCalls { // many calls, little time
			at := busy(t, a, 1)
			a.Finish(Cost{}, at, Outcome{Latency: time.Millisecond})
		}
		if _, top := a.Bounds(); top != 6 {
			t.Fatalf("top %d after many calls in no time, want the learned 6", top)
		}
		a2 := NewAdaptiveLimit(1, 20)
		at = busy(t, a2, 7)
		time.Sleep(time.Millisecond)
		a2.Finish(Cost{}, at, Outcome{Class: ClassThrottled, ConcurrencyLimited: true})
		release(a2, at, 6)
		for range probeCalls / 2 { // much time, few calls
			time.Sleep(probeQuiet / 10)
			at := busy(t, a2, 1)
			a2.Finish(Cost{}, at, Outcome{Latency: time.Millisecond})
		}
		if _, top := a2.Bounds(); top != 6 {
			t.Fatalf("top %d after few calls over a long time, want the learned 6", top)
		}
	})
}

// At the configured top, seven in eight healthy samples are skipped
// without the mutex (topSampling); a throttle never is, and once it has
// brought the ceiling down every sample counts again.
func TestAdaptiveLimitThinsHealthySamplesOnlyAtTheTop(t *testing.T) {
	a := NewAdaptiveLimit(1, 16)
	samples := func() int {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.samples
	}
	admitted := time.Now()
	a.Observe(admitted, Outcome{Latency: 1001})
	if got := samples(); got != 1 {
		t.Fatalf("below the top: %d samples, want 1", got)
	}
	a.mu.Lock()
	a.setCeiling(16)
	a.mu.Unlock()
	for i := range topSampling {
		a.Observe(admitted, Outcome{Latency: time.Duration(2000 + i)})
	}
	if got := samples(); got != 2 {
		t.Fatalf("at the top, %d latencies: %d samples, want 2 (1 + one in %d)", topSampling, got, topSampling)
	}
	a.Observe(admitted, Outcome{Class: ClassThrottled, Latency: 3001})
	if got := a.Ceiling(); got != 8 {
		t.Fatalf("a throttle at the top: ceiling %d, want 8", got)
	}
	a.Observe(admitted.Add(time.Millisecond), Outcome{Latency: 1001})
	if got := samples(); got != 3 {
		t.Fatalf("below the top again: %d samples, want 3", got)
	}
}
