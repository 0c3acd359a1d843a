package proxy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/proxy"
)

// A request whose client's timeout comes while it waits in the queue is
// told it was never sent upstream, so that a client knows a POST did not
// run (outside review: it was told "no answer from the upstream").
func TestClientDeadlineInTheQueueSaysNeverSent(t *testing.T) {
	up := startHeld(t)
	t.Cleanup(func() { close(up.release) })
	p := startProxy(t, proxy.Route{
		Upstream: mustURL(t, up.URL),
		Limits:   sluice.Limits{Concurrency: 1, FixedConcurrency: true},
	})
	goSend(t.Context(), "GET", p.URL()+"/x", "a", nil, "")
	eventually(t, "the first holds the slot", func() bool { return stats(p).Gates.InFlight == 1 })
	r := send(t.Context(), "GET", p.URL()+"/x", "b", map[string]string{"X-Sluice-Timeout": "0.3"}, "")
	if r.status != http.StatusGatewayTimeout || !strings.Contains(r.body, "never sent upstream") {
		t.Errorf("got %d %s; want 504 saying it was never sent", r.status, r.body)
	}
}
