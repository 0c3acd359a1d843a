package proxy_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/proxy"
)

// baseFunc is a RoundTripper made of a func.
type baseFunc func(*http.Request) (*http.Response, error)

func (f baseFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// refusal is the error of a dial nothing answers.
func refusal() error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

// With the upstream down, a request got a 502 after some 35 s of retries,
// and its body did not say why. A refused connection is now tried once
// more, quickly, then given up: the 502 comes at once and says
// "connection refused to HOST".
func TestUpstreamDownFailsFastAndSaysWhy(t *testing.T) {
	t.Run("refused twice", func(t *testing.T) {
		var dials atomic.Int32
		p := startProxy(t, proxy.Route{
			Upstream: mustURL(t, "http://127.0.0.1:1"),
			Preset:   proxy.Anthropic,
			Limits:   sluice.Limits{Tokens: sluice.PerMinute(10000)},
			Retry:    sluice.RetryPolicy{MaxAttempts: 9},
			Base: baseFunc(func(r *http.Request) (*http.Response, error) {
				dials.Add(1)
				if r.Body != nil {
					io.Copy(io.Discard, r.Body)
				}
				return nil, refusal()
			}),
		})
		r := send(t.Context(), "POST", p.URL()+"/v1/messages", "", map[string]string{"Content-Type": "application/json"},
			`{"model":"claude-haiku-4-5","max_tokens":9000,"messages":[{"role":"user","content":"hi"}]}`)
		if r.status != http.StatusBadGateway || !strings.Contains(r.body, "connection refused to 127.0.0.1:1") {
			t.Errorf("got %d %s, want 502 saying connection refused to 127.0.0.1:1", r.status, r.body)
		}
		if n := dials.Load(); n != 2 {
			t.Errorf("%d dials, want 2: one quick retry of a refused connection, not the policy's 9 attempts", n)
		}
		// Never sent: the 9000 tokens were given back.
		eventually(t, "the call is settled", func() bool { return stats(p).Gates.InFlight == 0 })
		r = send(t.Context(), "POST", p.URL()+"/v1/messages", "", map[string]string{"Content-Type": "application/json"},
			`{"model":"claude-haiku-4-5","max_tokens":9000,"messages":[{"role":"user","content":"hi"}]}`)
		if r.status != http.StatusBadGateway {
			t.Errorf("the second request: %d %s, want another 502, not a 429 for tokens never used", r.status, r.body)
		}
	})
	t.Run("refused once", func(t *testing.T) {
		var dials atomic.Int32
		p := startProxy(t, proxy.Route{
			Upstream: mustURL(t, "http://127.0.0.1:1"),
			Preset:   proxy.Anthropic,
			Base: baseFunc(func(r *http.Request) (*http.Response, error) {
				b, _ := io.ReadAll(r.Body)
				if dials.Add(1) == 1 {
					return nil, refusal()
				}
				return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(string(b))), Request: r}, nil
			}),
		})
		const body = `{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
		r := send(t.Context(), "POST", p.URL()+"/v1/messages", "", map[string]string{"Content-Type": "application/json"}, body)
		if r.status != 200 || r.body != body {
			t.Errorf("got %d %q, want 200 echoing the whole body: the quick retry resends it", r.status, r.body)
		}
	})
	t.Run("a real dead port", func(t *testing.T) {
		addr := deadAddr(t)
		p := startProxy(t, proxy.Route{Upstream: mustURL(t, "http://"+addr), Preset: proxy.OpenAI})
		r := send(t.Context(), "GET", p.URL()+"/v1/models", "", nil, "")
		if r.status != http.StatusBadGateway || !strings.Contains(r.body, "connection refused to "+addr) {
			t.Errorf("got %d %s, want 502 saying connection refused to %s", r.status, r.body, addr)
		}
	})
}
