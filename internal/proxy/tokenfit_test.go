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
	"github.com/sluicehq/sluice/internal/mock"
	"github.com/sluicehq/sluice/internal/proxy"
)

// countingAPI is an Anthropic-like upstream that counts the requests it
// gets and answers 400 to a message list that is empty, as the API does,
// and a small message with its usage otherwise.
func countingAPI(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(string(b), `"messages":[]`) {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"type":"error","error":{"type":"invalid_request_error","message":"messages: at least one message is required"}}`)
			return
		}
		io.WriteString(w, `{"type":"message","content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":8,"output_tokens":2}}`)
	}))
	t.Cleanup(api.Close)
	return api, &n
}

// A request whose estimate is more than a token budget holds in a period
// can never be admitted without leaving a debt that every later call
// waits out (the reviewer's max_tokens 99999999999999999999 made it 28
// hours): the proxy refuses it at once with 413, naming the numbers, and
// it consumes nothing, so the next request goes at once.
func TestTokenEstimateOverTheBudgetIsRefusedAtOnce(t *testing.T) {
	for _, c := range []struct {
		name, body, want string
		models           map[string]sluice.Limits
	}{
		{"twice the budget", `{"model":"claude-haiku-4-5","max_tokens":20000,"messages":[{"role":"user","content":"hi"}]}`,
			"this request's estimated 20001 tokens exceed the route's token budget of 10000/m", nil},
		{"absurd max_tokens", `{"model":"claude-haiku-4-5","max_tokens":99999999999999999999,"messages":[]}`,
			"this request's estimated 2147483647 tokens exceed the route's token budget of 10000/m", nil},
		{"a model's own budget", `{"model":"claude-haiku-4-5","max_tokens":6000,"messages":[{"role":"user","content":"hi"}]}`,
			"this request's estimated 6000 output-tokens exceed the model claude-haiku-4's output-token budget of 5000/m",
			map[string]sluice.Limits{"claude-haiku-4": {OutputTokens: sluice.PerMinute(5000)}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			api, got := countingAPI(t)
			p := startProxy(t, proxy.Route{
				Upstream: mustURL(t, api.URL),
				Preset:   proxy.Anthropic,
				Limits:   sluice.Limits{Tokens: sluice.PerMinute(10000)},
				Models:   c.models,
				MaxWait:  time.Second,
			})
			h := map[string]string{"Content-Type": "application/json"}
			r := send(t.Context(), "POST", p.URL()+"/v1/messages", "", h, c.body)
			if r.err != nil || r.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("got %d %v %s, want 413", r.status, r.err, r.body)
			}
			var e struct {
				Type  string `json:"type"`
				Error struct{ Type, Message string }
			}
			if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Type != "error" || e.Error.Type != "request_too_large" {
				t.Errorf("body %s: want Anthropic's error shape, type request_too_large", r.body)
			}
			if !strings.Contains(e.Error.Message, c.want) {
				t.Errorf("message %q, want it to say %q", e.Error.Message, c.want)
			}
			if n := got.Load(); n != 0 {
				t.Errorf("the upstream got %d requests, want none", n)
			}
			r = send(t.Context(), "POST", p.URL()+"/v1/messages", "", h,
				`{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`)
			if r.err != nil || r.status != 200 {
				t.Errorf("the next small request: %d %v %s, want 200 at once: the refused one consumed nothing", r.status, r.err, r.body)
			}
		})
	}
}

// The reviewer's case: with --tokens 10000/m a request the upstream
// answers 400 (an empty message list) kept its estimate charged, and the
// next got 429 with a Retry-After of a minute. The refusal now gives it
// back.
func TestUpstreamRejectionRefundsTheTokenEstimate(t *testing.T) {
	api, got := countingAPI(t)
	p := startProxy(t, proxy.Route{
		Upstream: mustURL(t, api.URL),
		Preset:   proxy.Anthropic,
		Limits:   sluice.Limits{Tokens: sluice.PerMinute(10000)},
		MaxWait:  time.Second,
	})
	h := map[string]string{"Content-Type": "application/json"}
	r := send(t.Context(), "POST", p.URL()+"/v1/messages", "", h, `{"model":"claude-haiku-4-5","max_tokens":9900,"messages":[]}`)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "at least one message") {
		t.Fatalf("got %d %s, want the upstream's 400 passed on", r.status, r.body)
	}
	eventually(t, "the call is settled", func() bool { return stats(p).Gates.InFlight == 0 })
	for i := range 3 {
		r = send(t.Context(), "POST", p.URL()+"/v1/messages", "", h,
			`{"model":"claude-haiku-4-5","max_tokens":1000,"messages":[{"role":"user","content":"hi"}]}`)
		if r.err != nil || r.status != 200 {
			t.Fatalf("request %d after the 400: %d %v Retry-After %q %s; want 200: the 400 used no tokens",
				i, r.status, r.err, r.header.Get("Retry-After"), r.body)
		}
	}
	if n := got.Load(); n != 4 {
		t.Errorf("the upstream got %d requests, want 4", n)
	}
}

// Anthropic's count_tokens is free and limited apart from the model's
// tokens: three counts of a long prompt charged the route's token budget
// (the estimate, then the count's answer read as usage), and the message
// after them got 429 for nine minutes. They now cost no tokens.
func TestCountTokensCostsNoTokensAtTheProxy(t *testing.T) {
	api := startMock(t, mock.Config{Style: mock.Anthropic, Seed: 3})
	p := startProxy(t, proxy.Route{
		Upstream: mustURL(t, api.URL()),
		Preset:   proxy.Anthropic,
		Limits:   sluice.Limits{Tokens: sluice.PerMinute(2000)},
		MaxWait:  time.Second,
	})
	h := map[string]string{"Content-Type": "application/json"}
	big := `{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"` + strings.Repeat("lorem ipsum dolor ", 1500) + `"}]}`
	for i := range 3 {
		r := send(t.Context(), "POST", p.URL()+"/v1/messages/count_tokens", "", h, big)
		if r.err != nil || r.status != 200 || !strings.Contains(r.body, "input_tokens") {
			t.Fatalf("count_tokens %d: %d %v %s", i, r.status, r.err, r.body)
		}
	}
	eventually(t, "the counts are settled", func() bool { return stats(p).Gates.InFlight == 0 })
	r := send(t.Context(), "POST", p.URL()+"/v1/messages", "", h,
		`{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)
	if r.err != nil || r.status != 200 {
		t.Errorf("the message after three counts: %d %v Retry-After %q %s; want 200: counting is free",
			r.status, r.err, r.header.Get("Retry-After"), r.body)
	}
}

// With the queue full, a request no token budget could ever admit got
// the queue's 429, and a client that honours Retry-After came back to
// be refused again; it now gets the 413 it gets when the queue has room,
// and the upstream never sees it.
func TestTooLargeRequestGets413EvenWhenTheQueueIsFull(t *testing.T) {
	release := make(chan struct{})
	var got atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		<-release
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"type":"message","content":[],"usage":{"input_tokens":8,"output_tokens":2}}`)
	}))
	defer api.Close()
	defer close(release)
	p := startProxy(t, proxy.Route{
		Upstream:  mustURL(t, api.URL),
		Preset:    proxy.Anthropic,
		Limits:    sluice.Limits{Concurrency: 1, Tokens: sluice.PerMinute(10000)},
		QueueSize: 1,
		MaxWait:   10 * time.Second,
	})
	h := map[string]string{"Content-Type": "application/json"}
	small := `{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`
	// One in flight upstream, then one waiting for its slot: the queue
	// is full. One after the other: sent together, the second could find
	// the first still counted in the queue of one, and be refused.
	go send(t.Context(), "POST", p.URL()+"/v1/messages", "", h, small)
	eventually(t, "one request upstream", func() bool { return got.Load() == 1 })
	go send(t.Context(), "POST", p.URL()+"/v1/messages", "", h, small)
	eventually(t, "one request upstream and one queued", func() bool { s := stats(p); return got.Load() == 1 && s.Queued == 1 })
	r := send(t.Context(), "POST", p.URL()+"/v1/messages", "", h, small)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("a small request with the queue full: %d %s, want 429", r.status, r.body)
	}
	r = send(t.Context(), "POST", p.URL()+"/v1/messages", "", h, `{"model":"claude-haiku-4-5","max_tokens":20000,"messages":[{"role":"user","content":"hi"}]}`)
	if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.body, "exceed the route's token budget of 10000/m") {
		t.Errorf("a too-large request with the queue full: %d %s, want 413 naming the budget", r.status, r.body)
	}
	if n := got.Load(); n != 1 {
		t.Errorf("the upstream got %d requests, want 1", n)
	}
}

// A body the token estimate cannot read truly is answered 400 saying
// why: a max_tokens of -5 once got a 413 saying "output 4096: the output
// is max_tokens" (the estimate had taken the API's default in its place),
// and a body that is not JSON a 400 that did not say so. Nothing reaches
// the upstream.
func TestUnreadableTokenFieldsAre400SayingWhy(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"negative max_tokens", `{"model":"claude-haiku-4-5","max_tokens":-5,"messages":[{"role":"user","content":"hi"}]}`,
			"max_tokens: -5: want a positive integer"},
		{"zero max_tokens", `{"model":"claude-haiku-4-5","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`,
			"max_tokens: 0: want a positive integer"},
		{"max_tokens a string", `{"model":"claude-haiku-4-5","max_tokens":"lots","messages":[{"role":"user","content":"hi"}]}`,
			`max_tokens: "lots": want a positive integer`},
		{"not JSON", `{"model":"claude-haiku-4-5",`, "the request body is not JSON"},
	} {
		t.Run(c.name, func(t *testing.T) {
			api, got := countingAPI(t)
			p := startProxy(t, proxy.Route{
				Upstream: mustURL(t, api.URL),
				Preset:   proxy.Anthropic,
				Limits:   sluice.Limits{Tokens: sluice.PerMinute(1000)},
				MaxWait:  time.Second,
			})
			r := send(t.Context(), "POST", p.URL()+"/v1/messages", "", map[string]string{"Content-Type": "application/json"}, c.body)
			if r.err != nil || r.status != http.StatusBadRequest {
				t.Fatalf("got %d %v %s, want 400", r.status, r.err, r.body)
			}
			var e struct {
				Error struct{ Type, Message string }
			}
			if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, c.want) {
				t.Errorf("body %s: want invalid_request_error saying %q", r.body, c.want)
			}
			if n := got.Load(); n != 0 {
				t.Errorf("the upstream got %d requests, want none", n)
			}
		})
	}
}
