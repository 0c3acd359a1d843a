package proxy_test

import (
	"math"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/mock"
	"github.com/sluicehq/sluice/internal/proxy"
)

// lastUsage returns the last count of each kind a response body reports,
// JSON or a stream of events (streams report a running count, so the last
// is the total): what the API says the call used.
func lastUsage(t *testing.T, body string) (in, out int) {
	t.Helper()
	last := func(re *regexp.Regexp) int {
		m := re.FindAllStringSubmatch(body, -1)
		if len(m) == 0 {
			t.Fatalf("no usage in %s", body)
		}
		n, _ := strconv.Atoi(m[len(m)-1][1])
		return n
	}
	return last(regexp.MustCompile(`"(?:input|prompt)_tokens":\s*(\d+)`)),
		last(regexp.MustCompile(`"(?:output|completion)_tokens":\s*(\d+)`))
}

// An LLM route with a token limit charges each request the estimate its
// body gives (max_tokens for the output) and settles it with the usage
// the response reports, from the JSON body or from the last events of a
// stream: how many calls go through, and when the next may, follow the
// tokens really used, not max_tokens. OpenAI counts max_tokens whatever
// the answer used (sluice.Cost.NoRefund): its calls are settled only
// upward, and three go through.
//
// The budget is 3000 tokens an hour and each request allows 1000: charged
// max_tokens, the fourth call would be refused. The mock answers 10 to
// 300 tokens, so with settlement about a dozen go through, and the first
// refusal's Retry-After is the time the bucket needs to refill the
// shortfall left by the real usage. The mock enforces no token limit: its
// rate-limit headers would teach the gate too, and this test is about the
// settlement alone. An hour's budget refills under a token a second, so
// the test's own duration moves nothing.
func TestTokenLimitSettlesFromUsageNotMaxTokens(t *testing.T) {
	const (
		budget    = 3000
		maxTokens = 1000
	)
	perToken := time.Hour / budget
	for _, c := range []struct {
		name   string
		preset proxy.Preset
		path   string
		body   string
	}{
		{"anthropic", proxy.Anthropic, "/v1/messages",
			`{"model":"claude-haiku-4-5","max_tokens":1000,"messages":[{"role":"user","content":"Hello"}]}`},
		{"anthropic stream", proxy.Anthropic, "/v1/messages",
			`{"model":"claude-haiku-4-5","max_tokens":1000,"stream":true,"messages":[{"role":"user","content":"Hello"}]}`},
		{"openai", proxy.OpenAI, "/v1/chat/completions",
			`{"model":"gpt-4o-mini","max_tokens":1000,"messages":[{"role":"user","content":"Hello there, how are you?"}]}`},
		{"openai stream", proxy.OpenAI, "/v1/chat/completions",
			`{"model":"gpt-4o-mini","max_tokens":1000,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hello there, how are you?"}]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			limit := sluice.Rate{N: budget, Per: time.Hour}
			cfg := mock.Config{Seed: 7, OutputRate: 100000}
			var limits sluice.Limits
			kind := sluice.OutputTokens // Anthropic's output-tokens limit
			if c.preset == proxy.Anthropic {
				cfg.Style = mock.Anthropic
				limits.OutputTokens = limit
			} else {
				cfg.Style = mock.OpenAI
				limits.Tokens = limit
				kind = sluice.AllTokens
			}
			api := startMock(t, cfg)
			p := startProxy(t, proxy.Route{
				Upstream: mustURL(t, api.URL()),
				Preset:   c.preset,
				Limits:   limits,
				MaxWait:  time.Second, // refuse any wait at once: a token takes 1.2s
			})
			est, ok := sluice.EstimateCost("POST", c.path, []byte(c.body))
			if !ok || est.OutputTokens != maxTokens {
				t.Fatalf("estimate %+v %v, want max_tokens %d as the output", est, ok, maxTokens)
			}
			charge := func(in, out int) int {
				if kind == sluice.OutputTokens {
					return out
				}
				return in + out
			}
			h := map[string]string{"Content-Type": "application/json"}
			used := 0 // the tokens the API says the admitted calls used
			for i := 0; ; i++ {
				if i > 40 {
					t.Fatalf("%d calls admitted: the budget is not kept", i)
				}
				r := send(t.Context(), "POST", p.URL()+c.path, "", h, c.body)
				// What the budget holds, had every call been charged what
				// it used; the next call needs its whole estimate.
				left := budget - used
				need := charge(est.InputTokens, est.OutputTokens)
				if left >= need {
					if r.err != nil || r.status != 200 {
						t.Fatalf("call %d: %d %v %s; want 200: %d tokens left of the real usage, %d needed",
							i, r.status, r.err, r.body, left, need)
					}
					got := charge(lastUsage(t, r.body))
					if c.preset == proxy.OpenAI {
						got = max(got, need) // OpenAI keeps max_tokens charged (sluice.Cost.NoRefund)
					}
					used += got
					// The settlement is done when the permit is: wait for
					// it rather than race the next call against it.
					eventually(t, "the call is settled", func() bool { return stats(p).Gates.InFlight == 0 })
					continue
				}
				// Refused: by the prediction, at once, with the time the
				// real shortfall takes to refill.
				checkRefusal(t, c.preset, r)
				if c.preset == proxy.Anthropic && i <= budget/maxTokens {
					t.Fatalf("only %d calls admitted: charged max_tokens, not the usage", i)
				}
				wantSecs := math.Ceil((time.Duration(need-left) * perToken).Seconds())
				ra, _ := strconv.Atoi(r.header.Get("Retry-After"))
				if math.Abs(float64(ra)-wantSecs) > 3 { // a few tokens of refill, either side
					t.Errorf("Retry-After %d, want about %v: %d tokens short after %d calls used %d",
						ra, wantSecs, need-left, i, used)
				}
				t.Logf("%d calls admitted on %d tokens used; refused %d short, Retry-After %ds", i, used, need-left, ra)
				break
			}
		})
	}
}
