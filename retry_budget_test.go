package sluice

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// flakyAPI is an in-memory API that fails a share of its calls with 500,
// 503 or 529, whatever the call, and counts what it saw.
type flakyAPI struct {
	fail float64

	mu    sync.Mutex
	rng   *rand.Rand
	calls int
}

func (a *flakyAPI) RoundTrip(req *http.Request) (*http.Response, error) {
	a.mu.Lock()
	a.calls++
	status := http.StatusOK
	if a.rng.Float64() < a.fail {
		status = []int{500, 503, 529}[a.rng.IntN(3)]
	}
	a.mu.Unlock()
	time.Sleep(20 * time.Millisecond) // the API's latency
	return &http.Response{StatusCode: status, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// flakyBatch sends items requests at rate through a Transport set up as
// sluice run sets it up (its own budget, BudgetWait, a Pool with more
// workers than the concurrency) and returns the results and how long the
// batch took.
func flakyBatch(t *testing.T, api *flakyAPI, items int, rate Rate, mode BudgetMode) (ok, failedAfterOne int, budget *RetryBudget, took time.Duration) {
	budget = &RetryBudget{}
	tr := &Transport{
		Base:   api,
		Limits: Limits{Rate: rate},
		Retry:  RetryPolicy{Budget: budget, BudgetMode: mode},
	}
	p := &Pool[int, int]{Workers: 64, Retry: RetryPolicy{MaxAttempts: 1}}
	begin := time.Now()
	for r := range p.Run(t.Context(), count(items, nil), func(ctx context.Context, i int) (int, error) {
		var info RoundTripInfo
		req, _ := http.NewRequestWithContext(WithRoundTripInfo(ctx, &info), "POST", "http://api.test/v1", strings.NewReader("{}"))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return info.Attempts, Permanent(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return info.Attempts, Permanent(errors.New(resp.Status))
		}
		return info.Attempts, nil
	}) {
		switch {
		case r.Err == nil:
			ok++
		case r.Value == 1:
			failedAfterOne++
		}
	}
	return ok, failedAfterOne, budget, time.Since(begin)
}

// Issue 9: with 30% injected 5xx the budget refused retries and dozens of
// items failed after one attempt, and once the first attempts were done
// the allowance collapsed to the floor, so the rest crawled.
func TestRetryBudgetWaitingLosesNoItemsAgainstAFlakyAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &flakyAPI{fail: 0.3, rng: rand.New(rand.NewPCG(9, 9))}
		ok, failedAfterOne, budget, took := flakyBatch(t, api, 300, PerSecond(150), BudgetWait)
		t.Logf("300 items at 150/s, 30%% failing: %d calls, %v simulated, budget %+v", api.calls, took, budget.Stats())
		if ok != 300 || failedAfterOne != 0 {
			t.Errorf("%d of 300 items succeeded, %d failed after one attempt; want all to succeed", ok, failedAfterOne)
		}
		if took > 30*time.Second {
			t.Errorf("the batch took %v; want well under a minute", took)
		}
	})
}

// The fail-fast mode a live caller gets is what lost items in issue 9:
// kept so that the difference between the modes stays visible.
func TestRetryBudgetFailFastRefusesRetriesBeyondTheBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &flakyAPI{fail: 1, rng: rand.New(rand.NewPCG(1, 2))}
		ok, failedAfterOne, _, _ := flakyBatch(t, api, 300, PerSecond(150), BudgetAuto)
		if ok != 0 || failedAfterOne == 0 {
			t.Errorf("%d succeeded, %d failed after one attempt; want the budget to refuse retries at once", ok, failedAfterOne)
		}
	})
}

// The storm guarantee: against an API that fails everything, retries that
// wait for budget stay a bounded fraction of the load in every window.
func TestRetryBudgetWaitingStillBoundsRetriesAgainstADeadAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		budget := &RetryBudget{}
		p := &Pool[int, int]{Workers: 300, Gate: NewGate(NewRateLimiter(PerSecond(150), 1)), Retry: RetryPolicy{Budget: budget}}
		for range p.Run(ctx, count(300, nil), func(ctx context.Context, i int) (int, error) {
			return 0, &StatusError{Status: 500, Class: ClassTransient}
		}) {
		}
		s := budget.Stats()
		// 300 first attempts in 2s; over 30s the budget allows 20% of them
		// plus a floor of 10 per 10s window.
		if limit := int64(60 + 10*3 + 10); s.Retries > limit {
			t.Errorf("%d retries in 30s after 300 first attempts, want at most %d", s.Retries, limit)
		}
		if s.Waited == 0 {
			t.Errorf("no retry waited for the budget: %+v", s)
		}
	})
}

// A recovered panic in a Pool's function must not keep its gate's slot:
// the gate outlives the run.
func TestPoolPanicGivesTheGateSlotBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(NewSemaphore(1))
		p := &Pool[int, int]{Workers: 1, Gate: g}
		func() {
			defer func() {
				if v := recover(); v != "boom" {
					t.Fatalf("recovered %v, want boom", v)
				}
			}()
			for range p.Run(t.Context(), count(1, nil), func(ctx context.Context, i int) (int, error) {
				panic("boom")
			}) {
			}
		}()
		if s := g.Stats(); s.InFlight != 0 {
			t.Errorf("after the panic the gate has %d in flight, want 0", s.InFlight)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		permit, err := g.Acquire(ctx, Cost{})
		if err != nil {
			t.Fatalf("Acquire after the panic: %v; the slot was lost", err)
		}
		permit.Done(Outcome{})
	})
}
