package sluice

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestSlidingWindowAllowsNThenWaitsForTheOldestToLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewSlidingWindow(Rate{N: 3, Per: time.Second})
		w.Allow()
		time.Sleep(200 * time.Millisecond)
		w.AllowN(2)
		if w.Allow() {
			t.Fatal("a fourth start in one window")
		}
		time.Sleep(799 * time.Millisecond)
		if w.Allow() {
			t.Fatal("admitted before the first start left the window")
		}
		time.Sleep(time.Millisecond) // the start at 0 leaves at 1s
		if !w.Allow() || w.Allow() {
			t.Fatal("at 1s want exactly one admission")
		}
		if w.Count() != 3 {
			t.Fatalf("Count() = %d, want 3", w.Count())
		}
	})
}

func TestSlidingWindowRandomArrivalsNeverExceedN(t *testing.T) {
	for seed := range uint64(20) {
		synctest.Test(t, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			n := 1 + rng.IntN(10)
			per := time.Duration(1+rng.IntN(20)) * 100 * time.Millisecond
			w := NewSlidingWindow(Rate{N: float64(n), Per: per})
			begin := time.Now()
			var starts []time.Duration
			for range 2000 {
				time.Sleep(time.Duration(rng.ExpFloat64() * float64(per) / float64(2*n)))
				k := 1 + rng.IntN(2)
				if w.AllowN(k) {
					for range k {
						starts = append(starts, time.Since(begin))
					}
				}
			}
			assertWindows(t, starts, n, per)
		})
	}
}

func TestSlidingWindowWaitersNeverExceedN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewSlidingWindow(Rate{N: 5, Per: time.Second})
		got := waitTimes(t, func(ctx context.Context) error { return w.Wait(ctx, 1) }, 23)
		assertWindows(t, got, 5, time.Second)
		if last := got[len(got)-1]; last != 4*time.Second {
			t.Errorf("23 starts at 5 per second ended at %v, want 4s", last)
		}
	})
}

func TestSlidingWindowCancelGivesBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewSlidingWindow(Rate{N: 2, Per: time.Second})
		w.AllowN(2)
		ctx, cancel := context.WithCancel(t.Context()) // not a deadline: one too soon fails at once
		time.AfterFunc(500*time.Millisecond, cancel)
		if err := w.Wait(ctx, 1); err != context.Canceled {
			t.Fatalf("Wait = %v", err)
		}
		if w.Count() != 2 {
			t.Fatalf("Count() = %d after a cancelled wait, want 2", w.Count())
		}
		time.Sleep(500 * time.Millisecond)
		if !w.AllowN(2) {
			t.Fatal("the cancelled wait kept its unit")
		}
	})
}

func TestSlidingWindowReserveOrdersStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewSlidingWindow(Rate{N: 2, Per: time.Second})
		var rs []*Reservation
		for range 5 {
			rs = append(rs, w.Reserve(1))
		}
		want := []time.Duration{0, 0, time.Second, time.Second, 2 * time.Second}
		for i, r := range rs {
			if r.Delay() != want[i] {
				t.Errorf("reservation %d due in %v, want %v", i, r.Delay(), want[i])
			}
		}
		if w.Allow() {
			t.Error("Allow jumped ahead of reservations")
		}
		rs[4].Cancel()
		if r := w.Reserve(1); r.Delay() != 2*time.Second {
			t.Errorf("after cancelling the last, next due in %v, want 2s", r.Delay())
		}
	})
}

func TestSlidingWindowOversize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewSlidingWindow(Rate{N: 3, Per: time.Second})
		w.Allow()
		if w.AllowN(5) {
			t.Fatal("oversize admitted in a window that is not empty")
		}
		time.Sleep(time.Second)
		if !w.AllowN(5) {
			t.Fatal("oversize refused in an empty window")
		}
		if w.Allow() {
			t.Fatal("admitted beside an oversize start")
		}
	})
}

func TestSlidingWindowConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewSlidingWindow(Rate{N: 10, Per: 100 * time.Millisecond})
		begin := time.Now()
		var mu sync.Mutex
		var starts []time.Duration
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 40 {
					if err := w.Wait(t.Context(), 1); err != nil {
						t.Error(err)
					}
					mu.Lock()
					starts = append(starts, time.Since(begin))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		slices.Sort(starts)
		assertWindows(t, starts, 10, 100*time.Millisecond)
	})
}

func TestZeroSlidingWindowHasNoLimit(t *testing.T) {
	var w SlidingWindow
	if !w.AllowN(1 << 20) {
		t.Fatal("zero SlidingWindow refused")
	}
}

// Reservations of absurd weights never overflow the count of units in the
// window.
func TestSlidingWindowHugeWeightsNeverWrapTheCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewSlidingWindow(Rate{N: 3, Per: time.Second})
		w.Allow()
		for i := range 3 {
			w.Reserve(math.MaxInt)
			if w.Allow() {
				t.Fatalf("after %d huge reservations, Allow admitted", i+1)
			}
			if got := w.Count(); got < 1 {
				t.Fatalf("after %d huge reservations, Count() = %d", i+1, got)
			}
		}
	})
}

// What a SlidingWindow promises holds at the real start times: a take
// forgiven its timer's lag is still recorded when it really happened, so
// the window it opens for later starts is measured from then.
func TestSlidingWindowRecordsRealStartsNotForgivenOnes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		begin := time.Now()
		w := NewSlidingWindow(Rate{N: 4, Per: 20 * time.Millisecond})
		var starts []time.Duration
		take := func(late time.Duration) {
			if wait, _ := w.Take(Cost{}, time.Time{}, late); wait == 0 {
				starts = append(starts, time.Since(begin))
			}
		}
		take(0)
		time.Sleep(25 * time.Millisecond)
		take(maxLate) // woken late: forgiven by older limiters, not here
		for range 3 {
			take(0)
		}
		time.Sleep(15 * time.Millisecond)
		for range 4 {
			take(0)
		}
		assertWindows(t, starts, 4, 20*time.Millisecond)
	})
}

// A Gate with only a SlidingWindow keeps the window at the times its
// callers really start, with many workers competing.
func TestGateSlidingWindowHoldsAtRealStartTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(NewSlidingWindow(Rate{N: 4, Per: 20 * time.Millisecond}))
		assertWindows(t, gateStarts(g, 8, 200*time.Millisecond), 4, 20*time.Millisecond)
	})
}

// gateStarts runs workers that Acquire from g until run has passed and
// returns when each really started (time.Now right after Acquire), from
// the beginning of the run, sorted.
func gateStarts(g *Gate, workers int, run time.Duration) []time.Duration {
	begin := time.Now()
	end := begin.Add(run)
	var mu sync.Mutex
	var starts []time.Duration
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				ctx, cancel := context.WithDeadline(context.Background(), end)
				p, err := g.Acquire(ctx, Cost{})
				now := time.Now()
				cancel()
				if err != nil {
					return
				}
				mu.Lock()
				starts = append(starts, now.Sub(begin))
				mu.Unlock()
				p.Done(Outcome{})
			}
		})
	}
	wg.Wait()
	slices.Sort(starts)
	return starts
}
