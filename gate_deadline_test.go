package sluice

import (
	"context"
	"errors"
	"os"
	"testing"
	"testing/synctest"
	"time"
)

// A wait that cannot end before the caller's deadline fails at once and
// takes nothing, so the caller behind it is not held up (issue: at 10/s a
// 50ms-deadline caller held a reservation and pushed the next to 200ms).
func TestGateWaitThatCannotMeetDeadlineFailsAtOnceTakingNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(NewRateLimiter(PerSecond(10), 1))
		begin := time.Now()
		if _, err := g.Acquire(t.Context(), Cost{}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := g.Acquire(ctx, Cost{})
		if !errors.Is(err, ErrWouldExceedDeadline) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Acquire with a 50ms deadline at 10/s: err %v, want ErrWouldExceedDeadline and DeadlineExceeded", err)
		}
		var we *WaitError
		if !errors.As(err, &we) || we.Wait != 100*time.Millisecond {
			t.Errorf("WaitError %+v, want a predicted wait of 100ms", we)
		}
		if !os.IsTimeout(err) {
			t.Errorf("os.IsTimeout(%v) = false; a WaitError stands for the deadline (outside review)", err)
		}
		if got := time.Since(begin); got != 0 {
			t.Errorf("refused after %v, want at once", got)
		}
		if _, err := g.Acquire(t.Context(), Cost{}); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(begin); got != 100*time.Millisecond {
			t.Errorf("the next caller was admitted at %v, want 100ms (the refused one took nothing)", got)
		}
	})
}

// The prediction counts the callers ahead in line: behind three waiters
// at 10/s, a caller needs 400ms.
func TestGateDeadlinePredictionCountsCallersAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(NewRateLimiter(PerSecond(10), 1))
		if _, err := g.Acquire(t.Context(), Cost{}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			go g.Acquire(t.Context(), Cost{})
		}
		synctest.Wait()
		short, cancel := context.WithTimeout(t.Context(), 350*time.Millisecond)
		defer cancel()
		if _, err := g.Acquire(short, Cost{}); !errors.Is(err, ErrWouldExceedDeadline) {
			t.Fatalf("350ms deadline behind 3 waiters at 10/s: err %v, want ErrWouldExceedDeadline", err)
		}
		// A higher priority goes ahead of them, so it fits.
		urgent, cancel2 := context.WithTimeout(WithPriority(t.Context(), 1), 150*time.Millisecond)
		defer cancel2()
		begin := time.Now()
		if _, err := g.Acquire(urgent, Cost{}); err != nil {
			t.Fatalf("a priority caller with room before its deadline: %v", err)
		}
		if got := time.Since(begin); got != 100*time.Millisecond {
			t.Errorf("priority caller admitted after %v, want 100ms", got)
		}
		long, cancel3 := context.WithTimeout(t.Context(), time.Second)
		defer cancel3()
		if _, err := g.Acquire(long, Cost{}); err != nil {
			t.Fatalf("a caller with room before its deadline: %v", err)
		}
	})
}

// The front of the line gives up as soon as it learns it cannot make its
// deadline: here a pause longer than its deadline began while it waited
// for a concurrency slot.
func TestGateFrontWaiterLeavesWhenDeadlineCannotBeMet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sem := NewSemaphore(1)
		g := NewGate(sem)
		p, _ := g.Acquire(t.Context(), Cost{})
		begin := time.Now()
		errc := make(chan error)
		go func() {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			_, err := g.Acquire(ctx, Cost{})
			errc <- err
		}()
		time.Sleep(500 * time.Millisecond)
		g.PauseUntil(time.Now().Add(5 * time.Second))
		time.Sleep(time.Second)
		p.Done(Outcome{})
		err := <-errc
		if !errors.Is(err, ErrWouldExceedDeadline) {
			t.Fatalf("err %v, want ErrWouldExceedDeadline", err)
		}
		if got := time.Since(begin); got != 1500*time.Millisecond {
			t.Errorf("gave up after %v, want 1.5s (when the slot freed and the pause was seen)", got)
		}
		if sem.Held() != 0 {
			t.Errorf("semaphore holds %d after the refusal, want 0", sem.Held())
		}
	})
}

// A pause for a time already past is no pause.
func TestGatePauseInThePastIsNoPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate()
		g.PauseUntil(time.Now().Add(-time.Second))
		g.PauseUntil(time.Now())
		if s := g.Stats(); s.Pauses != 0 {
			t.Errorf("Pauses = %d after pauses ending in the past, want 0", s.Pauses)
		}
		if !g.PausedUntil().IsZero() {
			t.Errorf("PausedUntil = %v, want zero", g.PausedUntil())
		}
	})
}
