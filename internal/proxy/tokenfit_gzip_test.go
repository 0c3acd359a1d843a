package proxy_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/proxy"
)

// A client that compresses its request body (Content-Encoding: gzip) is
// estimated by what the body says once decompressed, and the upstream
// gets the bytes the client sent (outside review: the proxy answered
// "the request body is not JSON" to every gzipped request under a token
// limit).
func TestGzippedRequestIsEstimatedAndPassedOnAsSent(t *testing.T) {
	zip := func(s string) string {
		var b bytes.Buffer
		z := gzip.NewWriter(&b)
		io.WriteString(z, s)
		z.Close()
		return b.String()
	}
	small := zip(`{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`)
	var got []byte
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"type":"message","content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":8,"output_tokens":2}}`)
	}))
	defer api.Close()
	p := startProxy(t, proxy.Route{
		Upstream: mustURL(t, api.URL),
		Preset:   proxy.Anthropic,
		Limits:   sluice.Limits{Tokens: sluice.PerMinute(10000)},
		MaxWait:  time.Second,
	})
	h := map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}
	r := send(t.Context(), "POST", p.URL()+"/v1/messages", "", h, small)
	if r.err != nil || r.status != 200 {
		t.Fatalf("a small gzipped request: %d %v %s, want 200", r.status, r.err, r.body)
	}
	if string(got) != small {
		t.Errorf("the upstream got %d bytes, not the %d gzipped bytes the client sent", len(got), len(small))
	}
	big := zip(`{"model":"claude-haiku-4-5","max_tokens":20000,"messages":[{"role":"user","content":"hi"}]}`)
	r = send(t.Context(), "POST", p.URL()+"/v1/messages", "", h, big)
	if r.err != nil || r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.body, "estimated 20001 tokens") {
		t.Errorf("a gzipped request over the budget: %d %v %s, want 413 naming its estimate", r.status, r.err, r.body)
	}
	r = send(t.Context(), "POST", p.URL()+"/v1/messages", "", h, "not gzip at all")
	if r.err != nil || r.status != http.StatusBadRequest || !strings.Contains(r.body, "gzip") {
		t.Errorf("a body that says gzip and is not: %d %v %s, want 400 saying so", r.status, r.err, r.body)
	}
}
