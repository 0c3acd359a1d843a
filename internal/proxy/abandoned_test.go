package proxy_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/proxy"
)

// A client that gives up on a call the upstream is working on (an SDK's
// timeout, not sent to the proxy) leaves the call's slot taken until the
// upstream answers: an LLM API generating a non-streamed answer counts
// the call as in flight until it is done, whoever still waits for it.
// The slot was freed at once, and the next call made two in flight at an
// upstream limited to one (outside review: -c 1, 4 violations in 10
// calls).
func TestAbandonedCallHoldsItsSlotUntilTheUpstreamAnswers(t *testing.T) {
	var inFlight, most atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(300 * time.Millisecond) // works on, whether the caller waits or not
		inFlight.Add(-1)
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(api.Close)
	p := startProxy(t, proxy.Route{
		Upstream: mustURL(t, api.URL),
		Limits:   sluice.Limits{Concurrency: 1, FixedConcurrency: true},
	})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond) // the impatient client
	defer cancel()
	gone := goSend(ctx, "GET", p.URL()+"/first", "", nil, "")
	eventually(t, "the first call at the upstream", func() bool { return inFlight.Load() == 1 })
	if r := <-gone; r.err == nil {
		t.Fatalf("the impatient client got %d, want its own timeout", r.status)
	}
	if r := send(t.Context(), "GET", p.URL()+"/second", "", nil, ""); r.status != 200 {
		t.Fatalf("second: %d %s", r.status, r.body)
	}
	if m := most.Load(); m != 1 {
		t.Errorf("the upstream had %d calls in flight at once, want 1: the abandoned call's slot went to the next", m)
	}
	eventually(t, "no call in flight at the proxy", func() bool { return p.Stats()[0].Gates.InFlight == 0 })
}

// hungAPI never answers its first call while the test runs, and answers
// every other at once.
func hungAPI(t *testing.T) *httptest.Server {
	hung := make(chan struct{})
	var calls atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select {
			case <-hung:
			case <-r.Context().Done():
			}
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(api.Close)
	t.Cleanup(func() { close(hung) })
	return api
}

// leaveEarly sends a call through p and gives up on it after 50ms.
func leaveEarly(t *testing.T, p *proxy.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if r := send(ctx, "GET", p.URL()+"/x", "", nil, ""); r.err == nil {
		t.Fatalf("the impatient client got %d, want its own timeout", r.status)
	}
}

// A call whose client left is held for an upstream that answers, not for
// one that never does: past the hold's bound the slot goes to the next
// call (outside review: one black-holed call wedged a -c 1 route for the
// 300 s its upstream took).
func TestAbandonedCallToAHungUpstreamIsBounded(t *testing.T) {
	proxy.SetAbandonedHold(t, 300*time.Millisecond)
	p := startProxy(t, proxy.Route{
		Upstream: mustURL(t, hungAPI(t).URL),
		Limits:   sluice.Limits{Concurrency: 1, FixedConcurrency: true},
	})
	leaveEarly(t, p)
	if r := send(t.Context(), "GET", p.URL()+"/y", "", nil, ""); r.status != 200 {
		t.Fatalf("the call after the abandoned one: %d %s, want 200 once the hold's bound passed", r.status, r.body)
	}
}

// A Shutdown waits for no call whose client left (outside review: one
// held a SIGTERM for its whole grace, 30 s).
func TestShutdownEndsAbandonedCalls(t *testing.T) {
	proxy.SetAbandonedHold(t, time.Hour)
	p := startProxy(t, proxy.Route{
		Upstream: mustURL(t, hungAPI(t).URL),
		Limits:   sluice.Limits{Concurrency: 1, FixedConcurrency: true},
	})
	leaveEarly(t, p)
	eventually(t, "the abandoned call held", func() bool { return p.Stats()[0].Gates.InFlight == 1 })
	done := make(chan error, 1)
	go func() { done <- p.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second): // the call would be held an hour
		t.Fatal("Shutdown still waits for a call whose client left")
	}
}
