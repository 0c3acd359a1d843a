package sluice

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// TestSemaphoreCompatWithXSync ports the cases of golang.org/x/sync/
// semaphore's tests (and its documented behaviour) to Semaphore. Where
// sluice differs on purpose, xsync says what x/sync does instead; the doc
// section "Coming from x/time/rate, x/sync/semaphore, failsafe-go" gives
// the idiom for each.
func TestSemaphoreCompatWithXSync(t *testing.T) {
	// try acquires n within 10ms, as x/sync's TestWeightedAcquire does.
	try := func(ctx context.Context, s *Semaphore, n int) bool {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		return s.Acquire(ctx, n) == nil
	}
	// background acquires n in a goroutine and reports the result on the
	// returned channel; it is queued when background returns.
	background := func(ctx context.Context, s *Semaphore, n int) <-chan error {
		errc := make(chan error, 1)
		go func() { errc <- s.Acquire(ctx, n) }()
		synctest.Wait()
		return errc
	}
	// state reports whether errc has a result yet, and which.
	state := func(errc <-chan error) string {
		select {
		case err := <-errc:
			return fmt.Sprint(err)
		default:
			return "waiting"
		}
	}
	tests := []struct {
		name  string
		limit int
		run   func(ctx context.Context, s *Semaphore) []any
		want  []any
		xsync string // what x/sync does, when it differs
	}{{
		name: "TryAcquire", limit: 2, // TestWeightedTryAcquire
		run: func(ctx context.Context, s *Semaphore) []any {
			s.Acquire(ctx, 1)
			got := []any{s.TryAcquire(1), s.TryAcquire(1)}
			s.Release(2)
			got = append(got, s.TryAcquire(1))
			s.Acquire(ctx, 1)
			return append(got, s.TryAcquire(1))
		},
		want: []any{true, false, true, false},
	}, {
		name: "Acquire with a timeout", limit: 2, // TestWeightedAcquire
		run: func(ctx context.Context, s *Semaphore) []any {
			s.Acquire(ctx, 1)
			got := []any{try(ctx, s, 1), try(ctx, s, 1)}
			s.Release(2)
			got = append(got, try(ctx, s, 1))
			s.Acquire(ctx, 1)
			return append(got, try(ctx, s, 1))
		},
		want: []any{true, false, true, false},
	}, {
		name: "releasing what is not held panics", limit: 1, // TestWeightedPanic
		run: func(ctx context.Context, s *Semaphore) (got []any) {
			defer func() { got = []any{recover() != nil, s.Held()} }()
			s.Release(1)
			return nil
		},
		want: []any{true, 0},
	}, {
		name: "a cancelled large request lets the small ones behind it in", limit: 10, // TestAllocCancelDoesntStarve
		run: func(ctx context.Context, s *Semaphore) []any {
			s.Acquire(ctx, 1)
			big, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			bigErr := background(big, s, 10)
			small := background(ctx, s, 1)
			got := []any{state(small)}
			time.Sleep(300 * time.Millisecond)
			synctest.Wait()
			return append(got, state(bigErr), state(small), s.Held())
		},
		want: []any{"waiting", "context deadline exceeded", "<nil>", 2},
	}, {
		name: "a large request is not starved by small ones", limit: 2, // TestLargeAcquireDoesntStarve
		run: func(ctx context.Context, s *Semaphore) []any {
			s.Acquire(ctx, 1)
			big := background(ctx, s, 2)
			small := background(ctx, s, 1) // fits now, but waits its turn
			got := []any{state(small), s.TryAcquire(1)}
			s.Release(1)
			synctest.Wait()
			got = append(got, state(big), state(small))
			s.Release(2)
			synctest.Wait()
			return append(got, state(small))
		},
		want: []any{"waiting", false, "<nil>", "waiting", "<nil>"},
	}, {
		name: "a done context fails even with room", limit: 1, // go.dev/issue/63615
		run: func(ctx context.Context, s *Semaphore) []any {
			done, cancel := context.WithCancel(ctx)
			cancel()
			return []any{fmt.Sprint(s.Acquire(done, 1)), s.Held()}
		},
		want: []any{"context canceled", 0},
	}, {
		name: "a request larger than the limit runs alone", limit: 2, // TestWeightedDoesntBlockIfTooBig
		run: func(ctx context.Context, s *Semaphore) []any {
			big := background(ctx, s, 3)
			small := background(ctx, s, 1)
			got := []any{state(big), state(small)}
			s.Release(3)
			synctest.Wait()
			return append(got, state(small))
		},
		want:  []any{"<nil>", "waiting", "<nil>"},
		xsync: "blocks the large request until its context ends and admits the small one at once",
	}, {
		name: "a zero weight does not queue", limit: 1,
		run: func(ctx context.Context, s *Semaphore) []any {
			s.Acquire(ctx, 1)
			waiter := background(ctx, s, 1)
			zero := background(ctx, s, 0)
			got := []any{state(zero), s.TryAcquire(0)}
			s.Release(1)
			synctest.Wait()
			return append(got, state(waiter))
		},
		want:  []any{"<nil>", true, "<nil>"},
		xsync: "queues Acquire(0) behind the waiter; TryAcquire(0) is false",
	}, {
		name: "a negative weight is refused", limit: 1,
		run: func(ctx context.Context, s *Semaphore) []any {
			err := s.Acquire(ctx, -1)
			return []any{err != nil, s.TryAcquire(-1), s.Held(), s.TryAcquire(1), s.TryAcquire(1)}
		},
		want:  []any{true, false, 0, true, false},
		xsync: "grants it, so the semaphore holds -1 and admits 2 units under a limit of 1",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				got := tt.run(t.Context(), NewSemaphore(tt.limit))
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
					if tt.xsync != "" {
						t.Logf("(x/sync differs on purpose: it %s)", tt.xsync)
					}
				}
			})
		})
	}
}
