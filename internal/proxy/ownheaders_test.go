package proxy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/proxy"
)

// The proxy's own headers are read strictly: a value it cannot read is a
// 400 naming the header, never sent upstream, rather than a deadline or
// priority silently dropped (outside review: "X-Sluice-Timeout: 30 s"
// waited with no deadline). Good values pass.
func TestOwnHeadersWithBadValuesAre400(t *testing.T) {
	api, got := countingAPI(t)
	p := startProxy(t, proxy.Route{Upstream: mustURL(t, api.URL)})
	for _, c := range []struct {
		header, value string
		ok            bool
	}{
		{"X-Sluice-Timeout", "30 s", false},
		{"X-Sluice-Timeout", "banana", false},
		{"X-Sluice-Timeout", "-5", false},
		{"X-Sluice-Priority", "banana", false},
		{"X-Sluice-Priority", "1.5", false},
		{"X-Sluice-Timeout", "30s", true},
		{"X-Sluice-Timeout", "2.5", true},
		{"X-Sluice-Priority", " 3 ", true},
	} {
		before := got.Load()
		r := send(t.Context(), "POST", p.URL()+"/x", "", map[string]string{c.header: c.value}, `{}`)
		if c.ok {
			if r.status != 200 {
				t.Errorf("%s: %q: %d %s, want 200", c.header, c.value, r.status, r.body)
			}
			continue
		}
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, c.header) {
			t.Errorf("%s: %q: %d %s, want 400 naming the header", c.header, c.value, r.status, r.body)
		}
		if n := got.Load(); n != before {
			t.Errorf("%s: %q: sent upstream", c.header, c.value)
		}
	}
}
