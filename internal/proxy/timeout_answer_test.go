package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/proxy"
)

// An upstream that takes longer than the route's attempt timeout on
// every attempt was reached: the client gets 504 saying so, and
// x-should-retry: false since the proxy retried already, not a 502 saying
// the upstream could not be reached (outside review: 3 attempts reached
// the judge, and the answer said "could not reach").
func TestAttemptTimeoutIsA504SayingTheUpstreamWasReached(t *testing.T) {
	var got atomic.Int32
	release := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		select { // never answers in time
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer api.Close()
	defer close(release)
	p := startProxy(t, proxy.Route{
		Upstream:       mustURL(t, api.URL),
		AttemptTimeout: 50 * time.Millisecond,
		Retry:          sluice.RetryPolicy{MaxAttempts: 2, Backoff: sluice.Backoff{Base: time.Millisecond, Cap: time.Millisecond}},
	})
	r := send(t.Context(), "POST", p.URL()+"/v1/x", "", map[string]string{"Content-Type": "application/json"}, `{"x":1}`)
	if r.err != nil || r.status != http.StatusGatewayTimeout {
		t.Fatalf("got %d %v %s, want 504", r.status, r.err, r.body)
	}
	if !strings.Contains(r.body, "did not answer within") || !strings.Contains(r.body, "2 attempts") || strings.Contains(r.body, "could not reach") {
		t.Errorf("body %s: want it to say the upstream did not answer in time, on 2 attempts", r.body)
	}
	if v := r.header.Get("X-Should-Retry"); v != "false" {
		t.Errorf("x-should-retry %q, want false: the proxy retried already", v)
	}
	if n := got.Load(); n != 2 {
		t.Errorf("the upstream saw %d attempts, want 2", n)
	}
}
