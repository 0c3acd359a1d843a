package sluice

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

// longBackoff backs off for a random time up to 1000 hours of synctest's
// fake time: far longer than the other items take, whatever the draw.
var longBackoff = Backoff{Base: 1000 * time.Hour, Cap: 1000 * time.Hour}

// TestPoolBackoffLeavesNoSlotIdle protects the Pool's spare workers: with
// one worker a slot, an item waiting between attempts must not keep the
// others from the slot it left. Item 0's first attempt fails and it backs
// off (or waits for the retry budget) for long; the nine other items, 10
// ms each, must be done meanwhile, one after another on the one slot.
// Without a spare worker they waited for item 0's retry, the slot idle.
// The wait is the Pool's own retries' or a Transport's that fn calls.
func TestPoolBackoffLeavesNoSlotIdle(t *testing.T) {
	// An exhausted budget that item 0's retry must wait for, granted by
	// the tenth first attempt: only once the other items were sent.
	exhausted := func() *RetryBudget {
		b := &RetryBudget{Floor: 1, Ratio: 0.1, Window: 1000 * time.Hour}
		b.Retry()
		return b
	}
	for _, tc := range []struct {
		name  string
		retry func() RetryPolicy
		// viaTransport: fn sends a request through a Transport that
		// retries (a Pool with no Gate and no retries of its own, as the
		// batch runner has); else the Pool's Gate and Retry do it all.
		viaTransport bool
	}{
		{"pool backoff", func() RetryPolicy { return RetryPolicy{MaxAttempts: 2, Backoff: longBackoff} }, false},
		{"pool budget", func() RetryPolicy {
			return RetryPolicy{MaxAttempts: 2, Backoff: Backoff{Base: time.Millisecond}, Budget: exhausted()}
		}, false},
		{"transport backoff", func() RetryPolicy { return RetryPolicy{MaxAttempts: 2, Backoff: longBackoff} }, true},
		{"transport budget", func() RetryPolicy {
			return RetryPolicy{MaxAttempts: 2, Backoff: Backoff{Base: time.Millisecond}, Budget: exhausted(), BudgetMode: BudgetWait}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var failedOnce atomic.Bool
				// attempt is one attempt at item i: item 0's first fails.
				attempt := func(i int) error {
					if i == 0 && failedOnce.CompareAndSwap(false, true) {
						return &StatusError{Status: 503, Class: ClassTransient}
					}
					time.Sleep(10 * time.Millisecond)
					return nil
				}
				p := &Pool[int, int]{Workers: 1}
				fn := func(ctx context.Context, i int) (int, error) { return i, attempt(i) }
				if tc.viaTransport {
					p.Retry = RetryPolicy{MaxAttempts: 1}
					tr := &Transport{
						Base: apitest.RoundTripper{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
							var i int
							fmt.Sscanf(r.URL.Path, "/%d", &i)
							if attempt(i) != nil {
								w.WriteHeader(http.StatusInternalServerError)
							}
						})},
						Limits: Limits{Concurrency: 1, FixedConcurrency: true},
						Retry:  tc.retry(),
					}
					fn = func(ctx context.Context, i int) (int, error) {
						req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://api.test/%d", i), nil)
						resp, err := tr.RoundTrip(req)
						if err != nil {
							return i, err
						}
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							return i, Permanent(fmt.Errorf("status %d", resp.StatusCode))
						}
						return i, nil
					}
				} else {
					p.Gate = NewGate(NewSemaphore(1))
					p.Retry = tc.retry()
				}
				begin := time.Now()
				var got []int
				var othersDone time.Duration
				for r := range p.Run(t.Context(), count(10, nil), fn) {
					if r.Err != nil {
						t.Errorf("item %d: %v", r.Index, r.Err)
					}
					got = append(got, r.Index)
					if len(got) == 9 {
						othersDone = time.Since(begin)
					}
				}
				if len(got) != 10 || got[9] != 0 {
					t.Errorf("results in order %v: want the other 9 items done while item 0 waited, then item 0", got)
				}
				if othersDone != 90*time.Millisecond {
					t.Errorf("the other items took %v, want 90ms: the slot idled", othersDone)
				}
			})
		})
	}
}

// TestPoolSparesEnd checks that a Pool runs Workers workers while no item
// waits between attempts, no more than twice that while some do, and that
// the spares end once none does.
func TestPoolSparesEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const workers = 4
		var most atomic.Int64
		note := func(ctx context.Context) {
			s := workerOf(ctx).spares
			s.mu.Lock()
			most.Store(max(most.Load(), int64(s.running)))
			s.mu.Unlock()
		}
		p := &Pool[int, int]{Workers: workers, Retry: RetryPolicy{MaxAttempts: 2, Backoff: Backoff{Base: 50 * time.Millisecond}}}
		var mu sync.Mutex
		tried := map[int]bool{}
		n := 0
		for r := range p.Run(t.Context(), count(100, nil), func(ctx context.Context, i int) (int, error) {
			note(ctx)
			mu.Lock()
			again := tried[i]
			tried[i] = true
			mu.Unlock()
			time.Sleep(time.Millisecond)
			if i%7 == 0 && !again {
				return 0, &StatusError{Status: 503, Class: ClassTransient}
			}
			return i, nil
		}) {
			if r.Err != nil {
				t.Errorf("item %d: %v", r.Index, r.Err)
			}
			n++
		}
		if n != 100 {
			t.Fatalf("%d results, want 100", n)
		}
		if m := most.Load(); m <= workers || m > 2*workers {
			t.Errorf("at most %d workers at once; want spares (more than %d) and no more than %d", m, workers, 2*workers)
		}

		most.Store(0)
		var last atomic.Pointer[spares]
		for range p.Run(t.Context(), count(100, nil), func(ctx context.Context, i int) (int, error) {
			note(ctx)
			last.Store(workerOf(ctx).spares)
			time.Sleep(time.Millisecond)
			return i, nil
		}) {
		}
		if m := most.Load(); m != workers {
			t.Errorf("%d workers at once without waits; want %d", m, workers)
		}
		if s := last.Load(); s.running != 0 || s.between != 0 || s.extra.Load() != -workers {
			t.Errorf("after the run: %d workers running, %d items between attempts, extra %d; want 0, 0, %d",
				s.running, s.between, s.extra.Load(), -workers)
		}
	})
}

// TestPoolWorkerCountsWaits checks the count a worker keeps of its item's
// waits: nested waits (a Pool's retries around a Transport's) count the
// item once, a wait left behind by the item's call is forgotten with the
// item, and calls after the worker ended change nothing.
func TestPoolWorkerCountsWaits(t *testing.T) {
	started := 0
	s := &spares{workers: 1, running: 1}
	s.start = func() { started++ }
	w := &worker{Context: context.Background(), spares: s}
	check := func(when string, running, between, spares int) {
		t.Helper()
		if s.running != running || s.between != between || started != spares {
			t.Errorf("%s: %d running, %d between, %d spares started; want %d, %d, %d", when, s.running, s.between, started, running, between, spares)
		}
	}
	w.waiting()
	w.waiting()
	check("two nested waits", 2, 1, 1)
	w.goingOn()
	check("the inner wait over", 2, 1, 1)
	w.goingOn()
	w.goingOn()
	check("both over, and one more", 2, 0, 1)
	w.waiting()
	check("a wait again", 2, 1, 1)
	if !w.itemDone() {
		t.Errorf("itemDone kept a worker more than Workers and the waiting items need")
	}
	check("the item done, a wait its call left behind forgotten", 1, 0, 1)
	w.waiting()
	w.goingOn()
	w.exit()
	check("calls after the end", 1, 0, 1)
	var none *worker
	none.waiting() // outside a Pool: nothing to tell
	none.goingOn()
	if workerOf(context.Background()) != nil {
		t.Errorf("workerOf found a worker outside a Pool")
	}
}

// TestPoolSpareRunsUnderTheRunsContext checks that fn's context, a
// worker's own, ends with the run, and that Value still finds the
// caller's values through it.
func TestPoolSpareRunsUnderTheRunsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type key struct{}
		ctx, cancel := context.WithCancel(context.WithValue(t.Context(), key{}, "mine"))
		p := &Pool[int, int]{Workers: 2}
		var canceled atomic.Int64
		var values []any
		var mu sync.Mutex
		var started sync.WaitGroup
		started.Add(2)
		for r := range p.Run(ctx, count(2, nil), func(ctx context.Context, i int) (int, error) {
			mu.Lock()
			values = append(values, ctx.Value(key{}))
			mu.Unlock()
			started.Done()
			started.Wait() // both items handed out before the run ends
			if i == 0 {
				cancel()
			}
			<-ctx.Done()
			canceled.Add(1)
			return i, ctx.Err()
		}) {
			if r.Class != ClassCanceled {
				t.Errorf("item %d: class %v, want canceled", r.Index, r.Class)
			}
		}
		if canceled.Load() != 2 || !slices.Equal(values, []any{"mine", "mine"}) {
			t.Errorf("%d calls saw the run cancelled, values %v; want 2, [mine mine]", canceled.Load(), values)
		}
	})
}
