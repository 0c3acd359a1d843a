package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkRouteKeyLargeBody is the model key of an LLM route's request
// with a 20 MiB body (its "model" last, as the Anthropic Python SDK
// writes it), read from the body the proxy keeps. Its B/op is the copy
// of the body that reading it through GetBody makes, when it makes one.
func BenchmarkRouteKeyLargeBody(b *testing.B) {
	body := []byte(`{"max_tokens":5,"messages":[{"role":"user","content":"` + strings.Repeat("x", 20<<20) + `"}],"model":"claude-haiku-4-5"}`)
	u, _ := url.Parse("https://api.anthropic.com")
	rt := newRoute(Route{Upstream: u, Preset: Anthropic}, logger{})
	k := &keptBody{data: body}
	req, _ := http.NewRequest("POST", "https://api.anthropic.com/v1/messages", nil)
	req.Body, req.ContentLength = k.reader(), int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return k.reader(), nil }
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if got := rt.key(req); got != "api.anthropic.com/claude-haiku-4-5" {
			b.Fatalf("key %q", got)
		}
	}
}

// keptReader's Bytes is the body it reads, not a copy, and nil once it
// is closed or the body released.
func TestKeptReaderBytesIsTheBody(t *testing.T) {
	body := []byte(`{"model":"m"}`)
	k := &keptBody{data: body}
	r := k.reader().(*keptReader)
	if got := r.Bytes(); len(got) != len(body) || &got[0] != &body[0] {
		t.Fatalf("Bytes: %q, a copy or not the body", got)
	}
	if got, _ := io.ReadAll(r); !bytes.Equal(got, body) {
		t.Fatalf("read %q after Bytes; want the whole body", got)
	}
	r.Close()
	if got := r.Bytes(); got != nil {
		t.Errorf("Bytes after Close: %q; want nil", got)
	}
	r = k.reader().(*keptReader)
	k.release()
	if got := r.Bytes(); got != nil {
		t.Errorf("Bytes after release: %q; want nil", got)
	}
}
