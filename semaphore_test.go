package sluice

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// queueAcquirers starts one goroutine per weight, in order, each acquiring
// that weight with the given priority and sending its index on got once
// granted. Each is queued before the next starts.
func queueAcquirers(t *testing.T, s *Semaphore, weights, priorities []int, got chan<- int) {
	t.Helper()
	for i, n := range weights {
		ctx := WithPriority(t.Context(), priorities[i])
		go func() {
			if err := s.Acquire(ctx, n); err != nil {
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
