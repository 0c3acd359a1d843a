package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/proxy"
)

// An upstream that keeps failing was retried by the proxy, then its last
// 500 went back bare, and the SDKs retried the proxy's whole round twice
// more: 27 upstream calls for one (outside review). An answer the proxy
// retried already says x-should-retry: false; one it did not retry
// leaves the client to decide.
func TestRetriedAnswerTellsClientsNotToRetry(t *testing.T) {
	var got atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"type":"error","error":{"type":"api_error","message":"Internal server error"}}`)
	}))
	t.Cleanup(api.Close)
	for _, c := range []struct {
		attempts int
		want     string
	}{
		{3, "false"},
		{1, ""},
	} {
		got.Store(0)
		p := startProxy(t, proxy.Route{Upstream: mustURL(t, api.URL), Preset: proxy.Anthropic,
			Retry: sluice.RetryPolicy{MaxAttempts: c.attempts, Backoff: sluice.Backoff{Base: time.Millisecond, Cap: time.Millisecond}}})
		r := send(t.Context(), "POST", p.URL()+"/v1/messages", "", map[string]string{"Content-Type": "application/json"},
			`{"model":"m-1","max_tokens":20,"messages":[{"role":"user","content":"Hello"}]}`)
		if r.status != http.StatusInternalServerError {
			t.Fatalf("MaxAttempts %d: status %d %s, want the upstream's 500", c.attempts, r.status, r.body)
		}
		if n := got.Load(); n != int32(c.attempts) {
			t.Errorf("MaxAttempts %d: the upstream saw %d calls", c.attempts, n)
		}
		if v := r.header.Get("X-Should-Retry"); v != c.want {
			t.Errorf("MaxAttempts %d: x-should-retry %q, want %q", c.attempts, v, c.want)
		}
	}
}

// An upstream 429 with no Retry-After and no rate-limit headers went back
// bare: the SDKs retried at once into the same refusals and gave up (166
// of 200 OpenAI SDK calls failed through the proxy, 105 without it:
// outside review). A throttled answer passed back without a word of when
// to come back now carries the gate's: Retry-After and retry-after-ms.
func TestThrottledAnswerWithoutRetryAfterSaysWhenToComeBack(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"message":"Rate limit reached","type":"requests"}}`)
	}))
	t.Cleanup(api.Close)
	p := startProxy(t, proxy.Route{Upstream: mustURL(t, api.URL), Preset: proxy.OpenAI,
		Retry: sluice.RetryPolicy{MaxAttempts: 1}})
	r := send(t.Context(), "POST", p.URL()+"/v1/chat/completions", "", map[string]string{"Content-Type": "application/json"},
		`{"model":"gpt-4o-mini","max_tokens":20,"messages":[{"role":"user","content":"Hello"}]}`)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("status %d %s, want the upstream's 429", r.status, r.body)
	}
	if ra, ms := r.header.Get("Retry-After"), r.header.Get("Retry-After-Ms"); ra == "" || ms == "" || ra == "0" {
		t.Errorf("Retry-After %q, retry-after-ms %q; want when to come back", ra, ms)
	}
}
