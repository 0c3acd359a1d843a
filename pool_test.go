package sluice

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// count yields 0, 1, ... n-1, recording how far it has been pulled.
func count(n int, pulled *atomic.Int64) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := range n {
			if pulled != nil {
				pulled.Store(int64(i + 1))
			}
			if !yield(i) {
				return
			}
		}
	}
}

func TestPoolRunsEveryItemOnceWithinTheLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(NewSemaphore(3), NewRateLimiter(PerSecond(100), 1))
		var inFlight, peak atomic.Int64
		p := &Pool[int, int]{Gate: g, Workers: 8}
		seen := map[int]bool{}
		begin := time.Now()
		for r := range p.Run(t.Context(), count(200, nil), func(ctx context.Context, i int) (int, error) {
			n := inFlight.Add(1)
			for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
			}
			time.Sleep(20 * time.Millisecond)
			inFlight.Add(-1)
			return i * i, nil
		}) {
			if r.Err != nil || r.Value != r.Index*r.Index || r.Attempts != 1 || seen[r.Index] {
				t.Fatalf("result %+v", r)
			}
			seen[r.Index] = true
		}
		if len(seen) != 200 || peak.Load() > 3 {
			t.Fatalf("%d results, peak %d in flight (limit 3)", len(seen), peak.Load())
		}
		if got, want := time.Since(begin), 199*10*time.Millisecond+20*time.Millisecond; got != want {
			t.Errorf("took %v, want %v (paced by the rate)", got, want)
		}
	})
}

func TestPoolOrderedKeepsInputOrderWithinAWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pulled atomic.Int64
		p := &Pool[int, int]{Workers: 4, Ordered: true, Window: 8}
		var got []int
		for r := range p.Run(t.Context(), count(100, &pulled), func(ctx context.Context, i int) (int, error) {
			if i == 10 {
				time.Sleep(time.Second) // a slow item holds the window
			} else {
				time.Sleep(time.Millisecond)
			}
			return i, nil
		}) {
			if r.Index == 10 {
				// While item 10 was slow, no more than the window was let
				// in: items 10..17, plus the one the feeder holds.
				if n := pulled.Load(); n > 10+8+1 {
					t.Errorf("pulled %d items while item 10 was pending, window 8", n)
				}
			}
			got = append(got, r.Value)
		}
		if !slices.Equal(got, slices.Collect(count(100, nil))) {
			t.Fatalf("out of order: %v", got)
		}
	})
}

func TestPoolMemoryDoesNotGrowWithItems(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pulled atomic.Int64
		p := &Pool[int, int]{Workers: 4}
		taken := 0
		for range p.Run(t.Context(), count(1_000_000, &pulled), func(ctx context.Context, i int) (int, error) {
			return i, nil
		}) {
			taken++
			if taken == 10 {
				time.Sleep(time.Hour) // a slow consumer: the pool must wait for it
				synctest.Wait()
				// Workers + the results buffer + the feeder's hand.
				if n := pulled.Load(); n > int64(taken)+4+4+4+1 {
					t.Fatalf("pulled %d items for a consumer that took %d", n, taken)
				}
				break
			}
		}
	})
}

func TestPoolRetriesAndReportsFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		tries := map[int]int{}
		var events []EventKind
		p := &Pool[int, string]{
			Workers: 2,
			Retry:   RetryPolicy{MaxAttempts: 3, Backoff: Backoff{Base: time.Millisecond}},
			OnEvent: func(e Event) {
				mu.Lock()
				events = append(events, e.Kind)
				mu.Unlock()
			},
		}
		results := map[int]Result[int, string]{}
		for r := range p.Run(t.Context(), count(3, nil), func(ctx context.Context, i int) (string, error) {
			mu.Lock()
			tries[i]++
			n := tries[i]
			mu.Unlock()
			switch {
			case i == 0:
				return "ok", nil
			case i == 1 && n < 3:
				return "", &StatusError{Status: 503, Class: ClassOverloaded}
			case i == 1:
				return "late", nil
			}
			return "", Permanent(errors.New("bad item"))
		}) {
			results[r.Index] = r
		}
		if r := results[1]; r.Err != nil || r.Attempts != 3 || r.Value != "late" {
			t.Errorf("item 1: %+v; want success on the third attempt", r)
		}
		if r := results[2]; r.Class != ClassFatal || r.Attempts != 1 || r.Err == nil || r.Err.Error() != "bad item" {
			t.Errorf("item 2: %+v; want a fatal failure after one attempt", r)
		}
		counts := map[EventKind]int{}
		for _, k := range events {
			counts[k]++
		}
		if counts[EventStarted] != 5 || counts[EventRetry] != 2 || counts[EventDone] != 2 || counts[EventFailed] != 1 {
			t.Errorf("events %v", counts)
		}
	})
}

func TestPoolBreakStopsPromptly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var started atomic.Int64
		p := &Pool[int, int]{Workers: 4}
		for range p.Run(t.Context(), count(1000, nil), func(ctx context.Context, i int) (int, error) {
			started.Add(1)
			if i == 0 {
				return 0, nil
			}
			select {
			case <-time.After(time.Hour):
			case <-ctx.Done():
				return 0, ctx.Err()
			}
			return i, nil
		}) {
			break
		}
		// Run has returned: every goroutine it started has ended (synctest
		// would report any left blocked), and no new item was started.
		if n := started.Load(); n > 5 {
			t.Errorf("%d items started for a run stopped after the first", n)
		}
	})
}

func TestPoolCancelledContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		p := &Pool[int, int]{Workers: 2, Gate: NewGate(NewRateLimiter(PerSecond(10), 1))}
		n, canceled := 0, 0
		for r := range p.Run(ctx, count(100, nil), func(ctx context.Context, i int) (int, error) { return i, nil }) {
			n++
			if r.Class == ClassCanceled {
				canceled++
			}
		}
		if n-canceled != 1 {
			t.Errorf("%d results, %d cancelled; want exactly one done in 50ms at 10/s", n, canceled)
		}
	})
}

func TestPoolReraisesPanics(t *testing.T) {
	defer func() {
		v := recover()
		p, ok := v.(*PanicError)
		if !ok || p.Value != "boom" {
			t.Fatalf("recovered %#v, want a *PanicError of boom", v)
		}
		// The stack is the one that panicked, in fn, not the caller's.
		if !strings.Contains(string(p.Stack), "panicsAtThree") {
			t.Errorf("the stack does not name the function that panicked:\n%s", p.Stack)
		}
		if !strings.Contains(p.Error(), "boom") || !strings.Contains(p.Error(), "panicsAtThree") {
			t.Errorf("Error() = %q, want the value and the stack", p.Error())
		}
	}()
	p := &Pool[int, int]{Workers: 2}
	for range p.Run(context.Background(), count(10, nil), panicsAtThree) {
	}
	t.Fatal("no panic")
}

// panicsAtThree is a Pool function that panics on item 3, named so that
// a test can find it in the stack a PanicError kept.
func panicsAtThree(ctx context.Context, i int) (int, error) {
	if i == 3 {
		panic("boom")
	}
	return i, nil
}

// A panic with an error value is seen through by errors.Is.
func TestPoolPanicErrorUnwraps(t *testing.T) {
	sentinel := errors.New("sentinel")
	defer func() {
		err, _ := recover().(error)
		if !errors.Is(err, sentinel) {
			t.Fatalf("recovered %v, want an error wrapping the sentinel", err)
		}
	}()
	p := &Pool[int, int]{Workers: 1}
	for range p.Run(context.Background(), count(1, nil), func(ctx context.Context, i int) (int, error) {
		panic(sentinel)
	}) {
	}
	t.Fatal("no panic")
}

func TestPoolStressNoGoroutineLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	g := NewGate(NewSemaphore(5), NewRateLimiter(PerSecond(1e6), 10))
	for round := range 20 {
		p := &Pool[int, string]{Gate: g, Workers: 16, Ordered: round%2 == 0}
		n := 0
		for r := range p.Run(context.Background(), count(500, nil), func(ctx context.Context, i int) (string, error) {
			return fmt.Sprint(i), nil
		}) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			n++
			if round%5 == 4 && n == 100 {
				break
			}
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines before, %d after", before, after)
	}
}

func TestClassOf(t *testing.T) {
	tests := []struct {
		err  error
		want Class
	}{
		{nil, ClassOK},
		{Permanent(errors.New("x")), ClassFatal},
		{fmt.Errorf("wrapped: %w", &StatusError{Status: 429, Class: ClassThrottled}), ClassThrottled},
		{context.Canceled, ClassCanceled},
		{errors.New("something odd"), ClassTransient},
	}
	for _, tt := range tests {
		if got := ClassOf(tt.err); got != tt.want {
			t.Errorf("ClassOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
