package proxy_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/internal/apitest"
	"github.com/sluicehq/sluice/internal/proxy"
)

// startLoggedProxy is startProxy with its log kept in the returned buffer.
func startLoggedProxy(t *testing.T, r proxy.Route) (*proxy.Server, *apitest.Buffer) {
	t.Helper()
	var log apitest.Buffer
	s := &proxy.Server{Addr: "127.0.0.1:0", Routes: []proxy.Route{r},
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if err := s.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, &log
}

// Once the upstream says the quota is exhausted the route's gate halts
// and the proxy answers later requests itself. Those answers had no
// Retry-After (every 429 the proxy sends carries one) and nothing telling
// the SDKs not to retry, so the OpenAI SDK tried each twice more for
// nothing; and nothing was logged, so the operator did not know. They now
// carry x-should-retry: false and Retry-After: 60, and one warning names
// the route and what the upstream said.
func TestHaltedRouteTellsClientsNotToRetryAndLogsOnce(t *testing.T) {
	for _, c := range []struct {
		preset     proxy.Preset
		path, body string
		upstream   int
		said       string
		status     int
	}{
		{proxy.OpenAI, "/v1/chat/completions", `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`,
			http.StatusTooManyRequests, "You exceeded your current quota", http.StatusTooManyRequests},
		{proxy.Anthropic, "/v1/messages", `{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API."}}`,
			http.StatusBadRequest, "Your credit balance is too low", http.StatusServiceUnavailable},
	} {
		t.Run(string(c.preset), func(t *testing.T) {
			var got atomic.Int32
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got.Add(1)
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(c.upstream)
				io.WriteString(w, c.body)
			}))
			t.Cleanup(api.Close)
			p, log := startLoggedProxy(t, proxy.Route{Upstream: mustURL(t, api.URL), Preset: c.preset})
			h := map[string]string{"Content-Type": "application/json"}
			body := `{"model":"m-1","max_tokens":20,"messages":[{"role":"user","content":"Hello"}]}`
			first := send(t.Context(), "POST", p.URL()+c.path, "", h, body)
			if first.status != c.upstream || !strings.Contains(first.body, c.said) {
				t.Fatalf("first: %d %s, want the upstream's %d", first.status, first.body, c.upstream)
			}
			if v := first.header.Get("X-Should-Retry"); v != "false" {
				t.Errorf("the upstream's own answer passed on: x-should-retry %q, want false (the gate is halted)", v)
			}
			for i := range 3 {
				r := send(t.Context(), "POST", p.URL()+c.path, "", h, body)
				if r.status != c.status || !strings.Contains(r.body, "sluice proxy") || !strings.Contains(r.body, c.said) {
					t.Errorf("request %d: %d %s, want the proxy's %d quoting the upstream", i, r.status, r.body, c.status)
				}
				if v := r.header.Get("X-Should-Retry"); v != "false" {
					t.Errorf("request %d: x-should-retry %q, want false", i, v)
				}
				if v := r.header.Get("Retry-After"); v != "60" {
					t.Errorf("request %d: Retry-After %q, want 60", i, v)
				}
			}
			if n := got.Load(); n != 1 {
				t.Errorf("the upstream got %d requests, want 1: the halted gate sends none", n)
			}
			if n := strings.Count(log.String(), "route halted"); n != 1 {
				t.Errorf("%d halt warnings, want 1:\n%s", n, log)
			}
			for _, want := range []string{"level=WARN", "route=", "gate=", c.said} {
				if !strings.Contains(log.String(), want) {
					t.Errorf("the log does not say %q:\n%s", want, log)
				}
			}
		})
	}
}
