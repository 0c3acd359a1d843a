package sluice

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// queueAcquirers starts one goroutine per weight, in order, each acquiring
// that weight with the given priority and sending its index on got once
// granted. Each is queued before the next starts. A waiter still queued
// when its test ends gives up quietly.
func queueAcquirers(t *testing.T, s *Semaphore, weights, priorities []int, got chan<- int) {
	t.Helper()
	for i, n := range weights {
		ctx := WithPriority(t.Context(), priorities[i])
		go func() {
			err := s.Acquire(ctx, n)
			if errors.Is(err, context.Canceled) {
				return // the test is over
			}
			if err != nil {
				t.Error(err)
				return
			}
			got <- i
		}()
		synctest.Wait()
	}
}

func TestSemaphoreServesInArrivalOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSemaphore(1)
		s.Acquire(t.Context(), 1)
		got := make(chan int, 5)
		queueAcquirers(t, s, []int{1, 1, 1, 1, 1}, []int{0, 0, 0, 0, 0}, got)
		for want := range 5 {
			s.Release(1)
			if i := <-got; i != want {
				t.Fatalf("granted waiter %d, want %d", i, want)
			}
		}
	})
}

func TestSemaphoreServesHigherPriorityFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSemaphore(1)
		s.Acquire(t.Context(), 1)
		got := make(chan int, 5)
		queueAcquirers(t, s, []int{1, 1, 1, 1, 1}, []int{0, 5, -1, 5, 1}, got)
		for _, want := range []int{1, 3, 4, 0, 2} {
			s.Release(1)
			if i := <-got; i != want {
				t.Fatalf("granted waiter %d, want %d", i, want)
			}
		}
	})
}

func TestSemaphoreDoesNotStarveLargeRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSemaphore(4)
		s.Acquire(t.Context(), 3)
		got := make(chan int, 3)
		// The large request is first; the small ones would fit now but wait.
		queueAcquirers(t, s, []int{4, 1, 1}, []int{0, 0, 0}, got)
		select {
		case i := <-got:
			t.Fatalf("waiter %d jumped the queue", i)
		default:
		}
		if s.TryAcquire(1) {
			t.Fatal("TryAcquire jumped the queue")
		}
		s.Release(3)
		if i := <-got; i != 0 {
			t.Fatalf("granted %d first, want the large request", i)
		}
		s.Release(4)
		synctest.Wait()
		if len(got) != 2 || s.Held() != 2 {
			t.Fatalf("after the large one, %d small granted with %d held; want both, 2 held", len(got), s.Held())
		}
	})
}

func TestSemaphoreSetLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSemaphore(2)
		s.Acquire(t.Context(), 2)
		got := make(chan int, 3)
		queueAcquirers(t, s, []int{1, 1, 1}, []int{0, 0, 0}, got)
		s.SetLimit(4) // growing wakes those that now fit
		synctest.Wait()
		if len(got) != 2 {
			t.Fatalf("growing to 4 granted %d waiters, want 2", len(got))
		}
		s.SetLimit(1) // shrinking waits for holders
		s.Release(1)
		s.Release(1)
		synctest.Wait()
		if len(got) != 2 {
			t.Fatalf("a waiter was granted while 2 of a limit of 1 were held")
		}
		s.Release(1)
		s.Release(1)
		synctest.Wait()
		if len(got) != 3 || s.Held() != 1 {
			t.Fatalf("after draining to 0: %d granted, %d held; want 3, 1", len(got), s.Held())
		}
		if s.Limit() != 1 {
			t.Fatalf("Limit() = %d, want 1", s.Limit())
		}
	})
}

func TestSemaphoreCancelledAcquireLeavesNoTrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSemaphore(2)
		s.Acquire(t.Context(), 1)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		bigErr := make(chan error, 1)
		go func() { bigErr <- s.Acquire(ctx, 2) }()
		synctest.Wait()
		got := make(chan int, 1)
		queueAcquirers(t, s, []int{1}, []int{0}, got) // fits, but queues behind the big one
		if len(got) != 0 {
			t.Fatal("the small request jumped the big one")
		}
		if err := <-bigErr; err != context.DeadlineExceeded {
			t.Fatalf("Acquire = %v, want DeadlineExceeded", err)
		}
		<-got // the cancelled front waiter handed over to the next
		if s.Waiting() != 0 || s.Held() != 2 {
			t.Fatalf("after cancel: %d waiting, %d held; want 0 and 2", s.Waiting(), s.Held())
		}
	})
}

func TestSemaphoreAcquireWithDoneContext(t *testing.T) {
	s := NewSemaphore(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Acquire(ctx, 1); err != context.Canceled || s.Held() != 0 {
		t.Fatalf("Acquire with a done context = %v, held %d", err, s.Held())
	}
}

func TestSemaphoreOversizeRunsAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSemaphore(2)
		s.Acquire(t.Context(), 1)
		got := make(chan int, 2)
		queueAcquirers(t, s, []int{5, 1}, []int{0, 0}, got)
		s.Release(1)
		if i := <-got; i != 0 {
			t.Fatalf("granted %d, want the oversize request once the semaphore emptied", i)
		}
		synctest.Wait()
		if len(got) != 0 {
			t.Fatal("a request ran beside the oversize one")
		}
		s.Release(5)
		if i := <-got; i != 1 {
			t.Fatalf("granted %d, want 1", i)
		}
	})
}

func TestSemaphoreReleaseTooMuchPanics(t *testing.T) {
	s := NewSemaphore(1)
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
		if s.Held() != 0 {
			t.Fatalf("held %d after the panic", s.Held())
		}
	}()
	s.Release(1)
}

func TestZeroSemaphoreCountsWithoutLimit(t *testing.T) {
	var s Semaphore
	for range 100 {
		if !s.TryAcquire(10) {
			t.Fatal("zero Semaphore refused")
		}
	}
	if s.Held() != 1000 {
		t.Fatalf("held %d, want 1000", s.Held())
	}
}

func TestSemaphoreStressNeverExceedsLimit(t *testing.T) {
	s := NewSemaphore(3)
	var mu sync.Mutex
	held, peak := 0, 0
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			ctx := WithPriority(context.Background(), g%3)
			for range 300 {
				n := 1 + g%2
				if err := s.Acquire(ctx, n); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				held += n
				peak = max(peak, held)
				mu.Unlock()
				mu.Lock()
				held -= n
				mu.Unlock()
				s.Release(n)
			}
		})
	}
	wg.Wait()
	if peak > 3 || s.Held() != 0 || s.Waiting() != 0 {
		t.Fatalf("peak %d (limit 3), held %d, waiting %d at the end", peak, s.Held(), s.Waiting())
	}
}

// Issue 9, item 3: a waiter that priority puts at the front of the line and
// whose units are free must not wait for a Release that may never come.
func TestSemaphoreGrantsAFittingHigherPriorityWaiterAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSemaphore(4)
		s.Acquire(t.Context(), 3)
		got := make(chan int, 2)
		// The large request waits for 4 free units; the urgent small one
		// goes in front of it and fits in the 1 unit that is free.
		queueAcquirers(t, s, []int{4, 1}, []int{0, 5}, got)
		if len(got) != 1 {
			t.Fatalf("%d granted, want the fitting high-priority waiter granted at once", len(got))
		}
		if i := <-got; i != 1 {
			t.Fatalf("granted waiter %d, want 1", i)
		}
		if s.Held() != 4 || s.Waiting() != 1 {
			t.Fatalf("held %d, waiting %d; want 4 and 1", s.Held(), s.Waiting())
		}
		s.Release(4)
		if i := <-got; i != 0 {
			t.Fatalf("granted waiter %d, want the large one next", i)
		}
	})
}

// A higher-priority waiter that fits must still not jump one of its own
// priority or higher: only lower priorities are passed.
func TestSemaphoreFittingWaiterDoesNotPassItsOwnPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSemaphore(4)
		s.Acquire(t.Context(), 3)
		got := make(chan int, 2)
		queueAcquirers(t, s, []int{4, 1}, []int{5, 5}, got)
		if len(got) != 0 {
			t.Fatalf("waiter %d passed one of the same priority", <-got)
		}
	})
}

// Issue 9, item 9: negative weights are refused and never change what is
// held or the room left.
func TestSemaphoreNegativeWeightsDoNotCorrupt(t *testing.T) {
	tests := []struct {
		name string
		op   func(s *Semaphore) (ok bool)
	}{
		{"Acquire", func(s *Semaphore) bool { return s.Acquire(context.Background(), -3) == nil }},
		{"TryAcquire", func(s *Semaphore) bool { return s.TryAcquire(-3) }},
		{"Release", func(s *Semaphore) (ok bool) {
			defer func() { ok = recover() == nil }()
			s.Release(-1)
			return true
		}},
	}
	for _, tt := range tests {
		for _, held := range []int{0, 2} {
			s := NewSemaphore(2)
			s.Acquire(context.Background(), held)
			if ok := tt.op(s); ok {
				t.Errorf("%s(-n) with %d held succeeded, want it refused", tt.name, held)
			}
			if s.Held() != held || s.Limit() != 2 {
				t.Errorf("%s(-n): held %d, limit %d; want %d and 2", tt.name, s.Held(), s.Limit(), held)
			}
			if got, want := s.TryAcquire(1), held == 0; got != want {
				t.Errorf("%s(-n) with %d held: TryAcquire(1) = %v, want %v", tt.name, held, got, want)
			}
		}
	}
}

// A zero weight takes nothing, so it cannot starve anyone: it is granted at
// once, even with others waiting.
func TestSemaphoreZeroWeightIsGrantedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSemaphore(2)
		s.Acquire(t.Context(), 1)
		got := make(chan int, 1)
		queueAcquirers(t, s, []int{2}, []int{0}, got)
		done := make(chan error, 1)
		go func() { done <- s.Acquire(t.Context(), 0) }()
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Acquire(0) = %v", err)
			}
		default:
			t.Fatal("Acquire(0) waited behind a waiter")
		}
		if !s.TryAcquire(0) {
			t.Fatal("TryAcquire(0) = false")
		}
		s.Release(0)
		if s.Held() != 1 || s.Waiting() != 1 {
			t.Fatalf("held %d, waiting %d; want 1 and 1", s.Held(), s.Waiting())
		}
	})
}

// Issue 9, item 13: a waiter granted its units whose context ends before it
// has returned must report ctx.Err() and give the units back (to the next
// waiter), as Acquire's doc promises. Before the fix it returned nil.
func TestSemaphoreAcquireDoneAtGrantReturnsErrAndHoldsNothing(t *testing.T) {
	// One P: the test goroutine grants and cancels before the woken waiter
	// runs, which is the interleaving the bug needs, every time.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for run := range 20 {
		synctest.Test(t, func(t *testing.T) {
			s := NewSemaphore(1)
			s.Acquire(t.Context(), 1)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- s.Acquire(ctx, 1) }()
			synctest.Wait()
			next := make(chan int, 1)
			queueAcquirers(t, s, []int{1}, []int{0}, next)
			s.Release(1) // grants the first waiter...
			cancel()     // ...whose context ends before it returns
			if err := <-errc; err != context.Canceled {
				t.Fatalf("run %d: Acquire = %v, want Canceled", run, err)
			}
			<-next // the units went on to the next in line
			if s.Held() != 1 || s.Waiting() != 0 {
				t.Fatalf("run %d: held %d, waiting %d; want 1 and 0", run, s.Held(), s.Waiting())
			}
		})
	}
}
