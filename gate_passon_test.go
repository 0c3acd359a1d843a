package sluice

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestGateNextInLineSleepsUntilARelease protects passOn: when the front
// caller is admitted into the last free slot, the caller behind it is not
// woken to find the slot taken; it sleeps, noticed by the semaphore,
// until a release. Woken, it would have asked the semaphore for a Changed
// channel.
func TestGateNextInLineSleepsUntilARelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sem := NewSemaphore(1)
		g := NewGate(sem)
		held, _ := g.Acquire(t.Context(), Cost{})
		admitted := make(chan *Permit, 3)
		for range 3 {
			go func() {
				p, err := g.Acquire(t.Context(), Cost{})
				if err != nil {
					t.Error(err)
				}
				admitted <- p
			}()
			synctest.Wait() // in line in this order
		}
		held.Done(Outcome{})
		synctest.Wait()
		first := <-admitted
		sem.mu.Lock()
		change, notified := sem.change, len(sem.notify)
		sem.mu.Unlock()
		if change != nil || notified != 1 {
			t.Errorf("after one admission: a Changed channel %v, %d noticed; want none and the next in line noticed", change != nil, notified)
		}
		first.Done(Outcome{})
		synctest.Wait()
		second := <-admitted
		second.Done(Outcome{})
		synctest.Wait()
		(<-admitted).Done(Outcome{})
		if s := g.Stats(); s.Admitted != 4 || s.InFlight != 0 || s.Waiting != 0 {
			t.Errorf("stats %+v; want 4 admitted, none in flight or waiting", s)
		}
	})
}

// TestGatePassOnServesInOrder protects the order of the line through
// passOn, with a caller cancelled while it sleeps noticed by the
// semaphore: the one behind it takes its turn.
func TestGatePassOnServesInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(NewSemaphore(2), NewRateLimiter(PerSecond(1000), 10))
		var order []int
		var held []*Permit
		for range 2 {
			p, _ := g.Acquire(t.Context(), Cost{})
			held = append(held, p)
		}
		got := make(chan int, 10)
		cancelled, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		defer wg.Wait()
		for i := range 6 {
			ctx := t.Context()
			if i == 2 {
				ctx = cancelled
			}
			wg.Go(func() {
				p, err := g.Acquire(ctx, Cost{})
				if err != nil {
					got <- -i
					return
				}
				got <- i
				time.Sleep(time.Second)
				p.Done(Outcome{})
			})
			synctest.Wait()
		}
		held[0].Done(Outcome{}) // 0 in; 1 next in line, noticed
		synctest.Wait()
		held[1].Done(Outcome{}) // 1 in; 2 next in line, noticed, then cancelled
		synctest.Wait()
		cancel()
		for range 6 {
			order = append(order, <-got)
		}
		want := []int{0, 1, -2, 3, 4, 5}
		for i := range want {
			if order[i] != want[i] {
				t.Fatalf("served %v, want %v", order, want)
			}
		}
	})
}
