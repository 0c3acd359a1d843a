package sluice

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The lock-free path (one compare-and-swap on a packed word) and the mutex
// path (waiters, watchers of Changed) hand the state to each other many
// times a second under load. This drives every operation at once, from
// many goroutines, and checks the invariants a Gate relies on: never more
// held than the limit, every waiter woken, every unit given back, and the
// fast path back in use once the crowd is gone.
func TestSemaphoreFastAndMutexPathsNeverExceedTheLimit(t *testing.T) {
	const limit = 4
	s := NewSemaphore(limit)
	var held, peak atomic.Int64
	hold := func(n int) {
		h := max(held.Add(int64(n)), int64(s.Held()))
		for p := peak.Load(); h > p && !peak.CompareAndSwap(p, h); p = peak.Load() {
		}
		runtime.Gosched() // hold on, so that holders overlap
		held.Add(-int64(n))
		s.Release(n)
	}
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Go(func() {
			ctx := WithPriority(context.Background(), g%3)
			for i := range 2000 {
				n := 1 + (g+i)%2
				switch i % 4 {
				case 0: // the Gate's way: TryAcquire, and Changed when refused
					if s.TryAcquire(n) {
						hold(n)
					} else {
						s.Changed()
					}
				case 1: // a waiter that gives up at once, sometimes granted
					ctx, cancel := context.WithCancel(ctx)
					if i%8 == 1 {
						cancel()
					}
					if s.Acquire(ctx, n) == nil {
						hold(n)
					}
					cancel()
				default:
					if err := s.Acquire(ctx, n); err != nil {
						t.Error(err)
						return
					}
					hold(n)
				}
			}
		})
	}
	// A watcher that keeps the mutex path busy, as a Gate's front waiter
	// does, until the others are done.
	stop := make(chan struct{})
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		for {
			select {
			case <-stop:
				return
			case <-s.Changed():
			case <-time.After(time.Millisecond):
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-watcher
	if p := peak.Load(); p > limit {
		t.Errorf("peak %d held, limit %d", p, limit)
	}
	if s.Held() != 0 || s.Waiting() != 0 {
		t.Errorf("held %d, waiting %d at the end; want 0 and 0", s.Held(), s.Waiting())
	}
	s.Changed()
	s.Release(0)
	s.SetLimit(limit) // closes the watched channel: nothing left for the mutex
	if s.word.Load() == semSlow {
		t.Error("the state stayed with the mutex with nobody waiting or watching")
	}
}

// SetLimit races the fast path: a take that read the old limit must not
// succeed after a shrink, whatever happened in between. The word packs the
// limit with what is held, so a compare-and-swap that succeeds decided on
// the limit in force. Shrink and grow while takers run and check that, at
// any moment, no more is held than the largest limit, and once the limit
// stays small, no new take exceeds it.
func TestSemaphoreSetLimitRacingTheFastPath(t *testing.T) {
	s := NewSemaphore(8)
	var held, over, takes atomic.Int64
	var small atomic.Bool // set once the limit is 2 for good
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !s.TryAcquire(1) {
					runtime.Gosched() // let the holders run
					continue
				}
				takes.Add(1)
				h := held.Add(1)
				if h > 8 || (small.Load() && h > 2) {
					over.Add(1)
				}
				runtime.Gosched() // hold on, so that holders overlap
				held.Add(-1)
				s.Release(1)
			}
		})
	}
	for i := range 2000 {
		s.SetLimit(1 + i%8)
	}
	// Shrink for good; wait until the holders from before the shrink are
	// gone, then every take must fit in 2.
	s.SetLimit(2)
	for s.Held() > 2 {
		time.Sleep(time.Microsecond)
	}
	small.Store(true)
	for from := takes.Load(); takes.Load() < from+2000; {
		time.Sleep(time.Microsecond)
	}
	close(stop)
	wg.Wait()
	if n := over.Load(); n > 0 {
		t.Errorf("%d takes held more than the limit", n)
	}
	if s.Held() != 0 {
		t.Errorf("held %d at the end", s.Held())
	}
}

// The fast path's packing has bounds: a limit or a holding beyond 31 bits
// lives under the mutex and keeps every promise there.
func TestSemaphoreBeyondThePackedRange(t *testing.T) {
	s := NewSemaphore(semPacked + 10)
	if !s.TryAcquire(semPacked + 5) {
		t.Fatal("TryAcquire within a limit beyond the packed range refused")
	}
	if s.TryAcquire(6) || !s.TryAcquire(5) {
		t.Fatal("the limit beyond the packed range is not kept")
	}
	s.Release(semPacked + 10)
	if s.Held() != 0 || s.Limit() != semPacked+10 {
		t.Fatalf("held %d, limit %d", s.Held(), s.Limit())
	}
	var z Semaphore // no limit: counts past the packed range
	z.TryAcquire(semPacked)
	z.TryAcquire(semPacked)
	if z.Held() != 2*semPacked {
		t.Fatalf("zero Semaphore held %d, want %d", z.Held(), 2*semPacked)
	}
	z.Release(2 * semPacked)
	if z.Held() != 0 || z.word.Load() == semSlow {
		t.Fatalf("zero Semaphore held %d after release, packed again: %v", z.Held(), z.word.Load() != semSlow)
	}
	one := NewSemaphore(1) // an oversize holder runs alone, packed or not
	if !one.TryAcquire(semPacked+1) || one.TryAcquire(1) {
		t.Fatal("oversize request beyond the packed range not run alone")
	}
	one.Release(semPacked + 1)
	if !one.TryAcquire(1) {
		t.Fatal("semaphore not usable after an oversize holder left")
	}
}
