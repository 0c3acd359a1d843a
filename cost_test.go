package sluice_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/apitest"
)

// tokenAPI is an LLM API in memory that counts, with a rule of its own
// (ASCII text over four, plus the output cap), the tokens each request
// asks for, and notes when it arrived.
type tokenAPI struct {
	header func(http.Header) // adds rate-limit headers to each answer; may be nil

	mu       sync.Mutex
	arrivals []arrival
}

type arrival struct {
	at     time.Duration // since the test began
	tokens int
	body   string
}

func (a *tokenAPI) handler(begin time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(r.Body)
		}
		var req struct {
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
			MaxTokens int `json:"max_tokens"`
		}
		tokens := 0
		if json.Unmarshal(body, &req) == nil {
			chars := 0
			for _, m := range req.Messages {
				chars += len(m.Content)
			}
			tokens = (chars+3)/4 + req.MaxTokens
		}
		a.mu.Lock()
		a.arrivals = append(a.arrivals, arrival{time.Since(begin), tokens, string(body)})
		a.mu.Unlock()
		if a.header != nil {
			a.header(w.Header())
		}
		fmt.Fprint(w, `{"usage":{}}`)
	})
}

func (a *tokenAPI) seen() []arrival {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]arrival(nil), a.arrivals...)
}

// post sends body as the Anthropic and OpenAI SDKs do: a JSON POST whose
// GetBody is set, through an http.Client.
func post(ctx context.Context, client *http.Client, url, body string) error {
	req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// A token limit paced nothing unless the user also wrote Transport.Cost:
// every request was charged no tokens. Requests shaped like the SDKs'
// must now be paced by their estimated tokens with no Cost function.
func TestTransportTokenLimitPacesLLMRequestsWithoutCost(t *testing.T) {
	for _, tt := range []struct {
		name, url, body string
	}{
		{"anthropic", "http://api.anthropic.test/v1/messages",
			`{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"` + strings.Repeat("a", 400) + `"}]}`},
		{"openai", "http://api.openai.test/v1/chat/completions",
			`{"model":"gpt-4o","max_tokens":100,"messages":[{"role":"user","content":"` + strings.Repeat("a", 400) + `"}]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const budget = 1000 // tokens a minute; each request asks for 100 in + 100 out
				api := &tokenAPI{}
				tr := &sluice.Transport{
					Base:   apitest.RoundTripper{Handler: api.handler(time.Now())},
					Limits: sluice.Limits{Tokens: sluice.PerMinute(budget)},
				}
				client := &http.Client{Transport: tr}
				for range 10 {
					if err := post(t.Context(), client, tt.url, tt.body); err != nil {
						t.Fatal(err)
					}
				}
				seen := api.seen()
				cum := 0
				for i, a := range seen {
					cum += a.tokens
					// A bucket of one minute's tokens, refilled at the budget.
					if allowed := budget + int(float64(budget)*a.at.Minutes()); cum > allowed {
						t.Errorf("request %d at %v brought the tokens to %d; the budget allows %d by then", i, a.at, cum, allowed)
					}
				}
				// 2000 tokens in all: the last 1000 of them take a minute
				// (and the 1% margin sluice keeps).
				if got, want := seen[len(seen)-1].at, 60*time.Second; got < want || got > want+2*time.Second {
					t.Errorf("the last request arrived at %v, want about %v", got, want)
				}
			})
		})
	}
}

// Under a token limit, a body whose tokens cannot be estimated is an
// error at the first request, naming it and saying what to do, and
// nothing is sent.
func TestTransportTokenLimitRefusesAnUnknownBody(t *testing.T) {
	for _, tt := range []struct {
		name   string
		limits sluice.Limits
	}{
		{"tokens", sluice.Limits{Tokens: sluice.PerMinute(1000)}},
		{"input tokens", sluice.Limits{InputTokens: sluice.PerMinute(1000)}},
		{"output tokens", sluice.Limits{OutputTokens: sluice.PerMinute(1000)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			api := &tokenAPI{}
			tr := &sluice.Transport{Base: apitest.RoundTripper{Handler: api.handler(time.Now())}, Limits: tt.limits}
			body := &closeCounter{Reader: strings.NewReader(`{"query":"rivers"}`)}
			req, err := http.NewRequest("POST", "http://search.test/v2/search", body) // no GetBody: a plain io.Reader
			if err != nil {
				t.Fatal(err)
			}
			_, err = (&http.Client{Transport: tr}).Do(req)
			if !errors.Is(err, sluice.ErrUnknownCost) {
				t.Fatalf("err = %v, want ErrUnknownCost", err)
			}
			for _, want := range []string{"POST /v2/search", "Transport.Cost", "WithCost"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error %q does not say %q", err, want)
				}
			}
			if n := len(api.seen()); n != 0 {
				t.Errorf("the API got %d requests, want none", n)
			}
			if body.closed == 0 {
				t.Errorf("the request body was not closed")
			}
		})
	}
}

type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

// WithCost says a request's cost better than the estimate, and lets a
// body of no known shape through a token limit.
func TestTransportWithCostOverridesTheEstimate(t *testing.T) {
	for _, tt := range []struct{ name, url, body string }{
		{"an LLM body estimated at 200", "http://api.test/v1/messages", `{"max_tokens":100,"messages":[{"role":"user","content":"` + strings.Repeat("a", 400) + `"}]}`},
		{"an unknown body", "http://api.test/v2/search", `{"query":"rivers"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				begin := time.Now()
				api := &tokenAPI{}
				tr := &sluice.Transport{
					Base:   apitest.RoundTripper{Handler: api.handler(begin)},
					Limits: sluice.Limits{Tokens: sluice.PerMinute(1000)},
				}
				client := &http.Client{Transport: tr}
				ctx := sluice.WithCost(t.Context(), sluice.Cost{InputTokens: 500})
				for range 4 {
					if err := post(ctx, client, tt.url, tt.body); err != nil {
						t.Fatal(err)
					}
				}
				// Two fill the bucket; each next one waits half a minute.
				want := []time.Duration{0, 0, 30 * time.Second, 60 * time.Second}
				for i, a := range api.seen() {
					if a.at < want[i] || a.at > want[i]+time.Second {
						t.Errorf("request %d arrived at %v, want about %v", i, a.at, want[i])
					}
				}
			})
		})
	}
}

// Transport.Cost, when set, has the last word, over WithCost too.
func TestTransportCostFuncOverridesWithCost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &tokenAPI{}
		tr := &sluice.Transport{
			Base:   apitest.RoundTripper{Handler: api.handler(time.Now())},
			Limits: sluice.Limits{Tokens: sluice.PerMinute(1000)},
			Cost:   func(*http.Request) sluice.Cost { return sluice.Cost{} },
		}
		ctx := sluice.WithCost(t.Context(), sluice.Cost{InputTokens: 5000})
		for range 3 {
			if err := post(ctx, &http.Client{Transport: tr}, "http://api.test/v2/search", `{}`); err != nil {
				t.Fatal(err)
			}
		}
		for i, a := range api.seen() {
			if a.at != 0 {
				t.Errorf("request %d waited %v; Transport.Cost charges nothing", i, a.at)
			}
		}
	})
}

func TestCostFrom(t *testing.T) {
	if c, ok := sluice.CostFrom(context.Background()); ok || c != (sluice.Cost{}) {
		t.Errorf("CostFrom(Background) = %+v, %v; want none", c, ok)
	}
	want := sluice.Cost{Requests: 2, InputTokens: 3, OutputTokens: 4}
	if c, ok := sluice.CostFrom(sluice.WithCost(context.Background(), want)); !ok || c != want {
		t.Errorf("CostFrom(WithCost(%+v)) = %+v, %v", want, c, ok)
	}
}

// Without a token limit of the user's, nothing is refused: a body of no
// known shape is sent, also once the gate has learned a token budget from
// the API's headers; known shapes are then estimated and paced by it.
func TestTransportLearnedTokenBudgetEstimatesButRefusesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		begin := time.Now()
		api := &tokenAPI{header: func(h http.Header) {
			h.Set("anthropic-ratelimit-input-tokens-limit", "1000")
			h.Set("anthropic-ratelimit-input-tokens-remaining", "1000")
			h.Set("anthropic-ratelimit-input-tokens-reset", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
		}}
		tr := &sluice.Transport{Base: apitest.RoundTripper{Handler: api.handler(begin)}}
		client := &http.Client{Transport: tr}
		for range 3 {
			if err := post(t.Context(), client, "http://api.test/v2/search", `{"query":"rivers"}`); err != nil {
				t.Fatalf("an unknown body without a token limit: %v", err)
			}
		}
		if got := api.seen()[2].at; got != 0 {
			t.Errorf("unknown bodies waited %v, want no wait", got)
		}
		// 500 input tokens each: two fill the learned bucket, the third waits.
		llm := `{"max_tokens":1,"messages":[{"role":"user","content":"` + strings.Repeat("a", 2000) + `"}]}`
		for range 3 {
			if err := post(t.Context(), client, "http://api.test/v1/messages", llm); err != nil {
				t.Fatal(err)
			}
		}
		seen := api.seen()
		if got := seen[len(seen)-1].at; got < 25*time.Second || got > 35*time.Second {
			t.Errorf("the third 500-token request arrived at %v, want about 30s (paced by the learned budget)", got)
		}
	})
}

// A body without GetBody is read for the estimate and still sent whole,
// on every attempt.
func TestTransportEstimateLeavesTheBodyToSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { // for the backoff
		testEstimateLeavesTheBodyToSend(t)
	})
}

func testEstimateLeavesTheBodyToSend(t *testing.T) {
	body := `{"max_tokens":10,"messages":[{"role":"user","content":"` + strings.Repeat("é", 100) + `"}]}`
	var mu sync.Mutex
	var got []string
	fails := 1
	tr := &sluice.Transport{
		Base: apitest.RoundTripper{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			got = append(got, string(b))
			if fails > 0 {
				fails--
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			fmt.Fprint(w, `{}`)
		})},
		Limits: sluice.Limits{Tokens: sluice.PerMinute(1e6)},
	}
	req, err := http.NewRequest("POST", "http://api.test/v1/messages", io.MultiReader(bytes.NewReader([]byte(body)))) // hides the length: no GetBody
	if err != nil {
		t.Fatal(err)
	}
	if req.GetBody != nil {
		t.Fatal("the request has GetBody; the test needs one without")
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(got) != 2 {
		t.Fatalf("the API got %d attempts, want 2", len(got))
	}
	for i, g := range got {
		if g != body {
			t.Errorf("attempt %d sent %d bytes %.40q…, want the %d bytes of the body", i, len(g), g, len(body))
		}
	}
}

// A request without a body costs no tokens, even under a token limit.
func TestTransportTokenLimitLetsBodilessRequestsThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &tokenAPI{}
		tr := &sluice.Transport{
			Base:   apitest.RoundTripper{Handler: api.handler(time.Now())},
			Limits: sluice.Limits{Tokens: sluice.PerMinute(10)},
		}
		for range 5 {
			resp, err := (&http.Client{Transport: tr}).Get("http://api.test/v1/models")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		for i, a := range api.seen() {
			if a.at != 0 {
				t.Errorf("GET %d waited %v", i, a.at)
			}
		}
	})
}

// A body without GetBody larger than MaxBodyBuffer is not read whole for
// an estimate: under a token limit it is refused, saying why.
func TestTransportTokenLimitRefusesABodyTooLargeToEstimate(t *testing.T) {
	api := &tokenAPI{}
	tr := &sluice.Transport{
		Base:          apitest.RoundTripper{Handler: api.handler(time.Now())},
		Limits:        sluice.Limits{Tokens: sluice.PerMinute(1000)},
		MaxBodyBuffer: 16,
	}
	body := `{"max_tokens":1,"messages":[{"role":"user","content":"a long enough question"}]}`
	req, err := http.NewRequest("POST", "http://api.test/v1/messages", io.MultiReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.RoundTrip(req)
	if !errors.Is(err, sluice.ErrUnknownCost) || !strings.Contains(err.Error(), "MaxBodyBuffer") {
		t.Errorf("err = %v, want ErrUnknownCost naming MaxBodyBuffer", err)
	}
	if n := len(api.seen()); n != 0 {
		t.Errorf("the API got %d requests, want none", n)
	}
}

// Settling needed Transport.Usage too: without it every call stayed
// charged its estimate (its max_tokens, which answers rarely reach), so a
// token limit paced ten times slower than the API counts. A call charged
// tokens is now settled from the response's usage by default.
func TestTransportSettlesTokenEstimatesWithoutUsageFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const budget = 10000 // tokens a minute
		begin := time.Now()
		var last time.Duration
		tr := &sluice.Transport{
			Base: apitest.RoundTripper{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				last = time.Since(begin)
				fmt.Fprint(w, `{"type":"message","content":[{"type":"text","text":"ok"}],"usage":{"input_tokens":100,"output_tokens":10}}`)
			})},
			Limits: sluice.Limits{Tokens: sluice.PerMinute(budget)},
		}
		client := &http.Client{Transport: tr}
		// Each asks for about 100 tokens in and 900 out, and uses 110: 30
		// estimates are 30000 tokens (two minutes of budget), 30 usages
		// 3300 (no wait at all).
		body := `{"model":"claude-sonnet-4-5","max_tokens":900,"messages":[{"role":"user","content":"` + strings.Repeat("a", 400) + `"}]}`
		for range 30 {
			if err := post(t.Context(), client, "http://api.anthropic.test/v1/messages", body); err != nil {
				t.Fatal(err)
			}
		}
		if last != 0 {
			t.Errorf("the 30th call arrived at %v; settled to their real usage they fit the budget at once", last)
		}
	})
}

// Anthropic's count_tokens endpoint is free and limited apart from the
// model's tokens, but its body is shaped like a message: it was charged
// its input and DefaultOutputTokens, so three counts of a long prompt
// held a small message back for minutes. It now costs a request and no
// tokens.
func TestTransportCountTokensIsFreeUnderATokenLimit(t *testing.T) {
	for _, withUsage := range []bool{false, true} {
		t.Run(fmt.Sprintf("Usage set %v", withUsage), func(t *testing.T) { countTokensIsFree(t, withUsage) })
	}
}

func countTokensIsFree(t *testing.T, withUsage bool) {
	synctest.Test(t, func(t *testing.T) {
		begin := time.Now()
		var last time.Duration
		tr := &sluice.Transport{
			Base: apitest.RoundTripper{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				last = time.Since(begin)
				if strings.HasSuffix(r.URL.Path, "/count_tokens") {
					fmt.Fprint(w, `{"input_tokens":6750}`)
					return
				}
				fmt.Fprint(w, `{"type":"message","content":[],"usage":{"input_tokens":8,"output_tokens":10}}`)
			})},
			Limits: sluice.Limits{Tokens: sluice.PerMinute(2000)},
		}
		if withUsage {
			// As the proxy's, which counts the tokens of every call:
			// count_tokens' answer is no usage to settle with.
			tr.Usage = sluice.ScanUsage
		}
		client := &http.Client{Transport: tr}
		big := `{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"` + strings.Repeat("lorem ipsum dolor ", 1500) + `"}]}`
		for range 3 {
			if err := post(t.Context(), client, "http://api.anthropic.test/v1/messages/count_tokens", big); err != nil {
				t.Fatal(err)
			}
		}
		if err := post(t.Context(), client, "http://api.anthropic.test/v1/messages",
			`{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`); err != nil {
			t.Fatal(err)
		}
		if last != 0 {
			t.Errorf("the message after three count_tokens calls went at %v, want at once: counting is free", last)
		}
	})
}

// Under a token limit a body whose max_tokens the APIs would refuse is
// refused unsent, naming the field: "ten" was refused as "not an
// Anthropic or OpenAI request", and -5 charged DefaultOutputTokens and
// sent.
func TestTransportTokenLimitNamesAFieldItCannotEstimate(t *testing.T) {
	for _, maxTokens := range []string{`"ten"`, `-5`} {
		api := &tokenAPI{}
		tr := &sluice.Transport{
			Base:   apitest.RoundTripper{Handler: api.handler(time.Now())},
			Limits: sluice.Limits{Tokens: sluice.PerMinute(100000)},
		}
		body := `{"max_tokens":` + maxTokens + `,"messages":[{"role":"user","content":"hi"}]}`
		req, err := http.NewRequest("POST", "http://api.test/v1/messages", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_, err = tr.RoundTrip(req)
		if want := "max_tokens: " + maxTokens + ": want a positive integer"; !errors.Is(err, sluice.ErrUnknownCost) || !strings.Contains(err.Error(), want) {
			t.Errorf("max_tokens %s: err = %v, want ErrUnknownCost saying %q", maxTokens, err, want)
		}
		if n := len(api.seen()); n != 0 {
			t.Errorf("max_tokens %s: the API got %d requests, want none", maxTokens, n)
		}
	}
}
