package proxy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/internal/storetest"
)

// The proxy answered a store's outage with 503 only when the command had
// told it which error meant one (Route.SharedUnavailable, set to
// redis.ErrUnavailable): any other store, or a route built without the
// command, got 502 blaming the upstream it never tried. The library now
// classifies the error (sluice.ClassSharedUnavailable), and the proxy
// reads that.
func TestSharedLimitsUnavailableIsA503WhateverTheStore(t *testing.T) {
	var got atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		io.WriteString(w, `{}`)
	}))
	t.Cleanup(api.Close)
	store := &storetest.DownStore{}
	p := startProxy(t, proxy.Route{Upstream: mustURL(t, api.URL), Preset: proxy.Anthropic,
		Limits: sluice.Limits{Rate: sluice.PerSecond(100), Store: store}, MaxWait: time.Second})
	r := send(t.Context(), "POST", p.URL()+"/v1/messages", "", map[string]string{"Content-Type": "application/json"},
		`{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)
	if r.err != nil || r.status != http.StatusServiceUnavailable {
		t.Fatalf("got %d %v %s, want 503", r.status, r.err, r.body)
	}
	var e struct {
		Type  string
		Error struct{ Type, Message string }
	}
	if json.Unmarshal([]byte(r.body), &e) != nil || !strings.Contains(e.Error.Message, "the shared limits (a test store) cannot be reached;") {
		t.Errorf("body %s: want the message naming the shared limits", r.body)
	}
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if n := got.Load(); n != 0 || store.Asked.Load() != 1 {
		t.Errorf("the upstream got %d requests and the store was asked %d times, want 0 and 1 (not retried)", n, store.Asked.Load())
	}
}

// A request the library refuses as too large (sluice.ErrTooLarge, now
// decided by the gate rather than by the proxy) is still counted as the
// proxy's own refusal, refused_too_large, not as an error.
func TestTooLargeFromTheGateCountsAsRefusedTooLarge(t *testing.T) {
	api, _ := countingAPI(t)
	p := startProxy(t, proxy.Route{Upstream: mustURL(t, api.URL), Preset: proxy.Anthropic,
		Limits: sluice.Limits{Tokens: sluice.PerMinute(10000)}, MaxWait: time.Second})
	r := send(t.Context(), "POST", p.URL()+"/v1/messages", "", map[string]string{"Content-Type": "application/json"},
		`{"model":"claude-haiku-4-5","max_tokens":20000,"messages":[{"role":"user","content":"hi"}]}`)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %d %s, want 413", r.status, r.body)
	}
	series, body := scrape(t, p.URL())
	found := false
	for name, v := range series {
		if strings.HasPrefix(name, "sluice_proxy_requests_total{") && strings.Contains(name, `outcome="refused_too_large"`) {
			found = v == 1
		}
	}
	if !found {
		t.Errorf("no refused_too_large request counted:\n%s", body)
	}
}
