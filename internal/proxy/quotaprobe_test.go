package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/proxy"
)

// A route halted because the upstream's quota is exhausted lets one
// request through once the probe interval has passed: while the quota
// stays exhausted the gate halts again on its answer; once it is raised
// the route serves again, with no restart (outside review: one answer
// took a shared gateway down until the process was restarted).
func TestHaltedRouteProbesTheUpstreamAndResumes(t *testing.T) {
	const probe = 50 * time.Millisecond
	proxy.SetQuotaProbeAfter(t, probe)
	var got atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if got.Add(1) <= 2 { // out of quota for the first two requests it sees
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}`)
			return
		}
		io.WriteString(w, `{"id":"ok","object":"chat.completion","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}))
	t.Cleanup(api.Close)
	p, log := startLoggedProxy(t, proxy.Route{Upstream: mustURL(t, api.URL), Preset: proxy.OpenAI})
	h := map[string]string{"Content-Type": "application/json"}
	body := `{"model":"gpt-4.1","max_tokens":20,"messages":[{"role":"user","content":"Hello"}]}`
	call := func(step string, wantStatus int, wantUpstream int32) {
		t.Helper()
		r := send(t.Context(), "POST", p.URL()+"/v1/chat/completions", "", h, body)
		if r.status != wantStatus || got.Load() != wantUpstream {
			t.Fatalf("%s: %d %s, the upstream has seen %d; want %d and %d", step, r.status, r.body, got.Load(), wantStatus, wantUpstream)
		}
	}
	call("the first request", http.StatusTooManyRequests, 1)
	call("at once after the halt", http.StatusTooManyRequests, 1) // the proxy's own answer
	time.Sleep(probe + 10*time.Millisecond)
	call("the probe, quota still out", http.StatusTooManyRequests, 2)
	call("at once after the probe", http.StatusTooManyRequests, 2)
	time.Sleep(probe + 10*time.Millisecond)
	call("the probe, quota raised", http.StatusOK, 3)
	call("after the resume", http.StatusOK, 4)
	if n := strings.Count(log.String(), "route halted"); n != 2 {
		t.Errorf("%d halt warnings, want 2 (one a halt):\n%s", n, log)
	}
	if n := strings.Count(log.String(), "route resumed"); n != 2 {
		t.Errorf("%d resume lines, want 2 (one a probe):\n%s", n, log)
	}
}

// The refusals of a gate halted for quota say when its probe comes: the
// time left, not the whole interval each time (outside review: told 60
// at second 58).
func TestHaltedRouteRetryAfterCountsDownToTheProbe(t *testing.T) {
	proxy.SetQuotaProbeAfter(t, 3*time.Second)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}`)
	}))
	t.Cleanup(api.Close)
	p := startProxy(t, proxy.Route{Upstream: mustURL(t, api.URL), Preset: proxy.OpenAI})
	h := map[string]string{"Content-Type": "application/json"}
	body := `{"model":"gpt-4.1","max_tokens":20,"messages":[{"role":"user","content":"Hello"}]}`
	send(t.Context(), "POST", p.URL()+"/v1/chat/completions", "", h, body) // halts the gate
	if r := send(t.Context(), "POST", p.URL()+"/v1/chat/completions", "", h, body); r.header.Get("Retry-After") != "3" {
		t.Errorf("at once after the halt: Retry-After %q, want 3", r.header.Get("Retry-After"))
	}
	time.Sleep(1100 * time.Millisecond)
	if r := send(t.Context(), "POST", p.URL()+"/v1/chat/completions", "", h, body); r.header.Get("Retry-After") != "2" {
		t.Errorf("1.1s after the halt: Retry-After %q, want 2", r.header.Get("Retry-After"))
	}
}
