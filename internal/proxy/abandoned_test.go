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
