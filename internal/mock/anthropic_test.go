package mock

import (
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestAnthropicValidation(t *testing.T) {
	tests := []struct {
		name, path, body string
		wantStatus       int
		wantType         string
		wantMessage      string // a part of the message
	}{
		{"invalid JSON", "/v1/messages", `{"model":`, 400, "invalid_request_error", "not a valid JSON object"},
		{"not an object", "/v1/messages", `[1,2]`, 400, "invalid_request_error", "not a valid JSON object"},
		{"empty body", "/v1/messages", ``, 400, "invalid_request_error", "not a valid JSON object"},
		{"missing model", "/v1/messages", `{"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error", "model: Field required"},
		{"empty model", "/v1/messages", `{"model":"","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error", "model: Field required"},
		{"model not a string", "/v1/messages", `{"model":3,"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error", "model: Input should be a valid string"},
		{"missing max_tokens", "/v1/messages", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error", "max_tokens: Field required"},
		{"zero max_tokens", "/v1/messages", `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error", "max_tokens: Input should be greater than or equal to 1"},
		{"missing messages", "/v1/messages", `{"model":"m","max_tokens":10}`, 400, "invalid_request_error", "messages: Field required"},
		{"empty messages", "/v1/messages", `{"model":"m","max_tokens":10,"messages":[]}`, 400, "invalid_request_error", "messages: List should have at least 1 item"},
		{"bad role", "/v1/messages", `{"model":"m","max_tokens":10,"messages":[{"role":"system","content":"hi"}]}`, 400, "invalid_request_error", "messages.0.role"},
		{"missing content", "/v1/messages", `{"model":"m","max_tokens":10,"messages":[{"role":"user"}]}`, 400, "invalid_request_error", "messages.0.content: Field required"},
		{"count_tokens missing model", "/v1/messages/count_tokens", `{"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error", "model: Field required"},
		{"count_tokens empty messages", "/v1/messages/count_tokens", `{"model":"m","messages":[]}`, 400, "invalid_request_error", "messages: List should have"},
		{"unknown path", "/v1/complete", `{}`, 404, "not_found_error", "Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, Config{Style: Anthropic, Requests: Limit{10, time.Second}})
			w := do(s, "POST", tt.path, tt.body)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d; want %d (body %s)", w.Code, tt.wantStatus, w.Body)
			}
			v := jsonBody(t, w)
			if got := path(v, "type"); got != "error" {
				t.Errorf("type %v; want error", got)
			}
			if got := path(v, "error.type"); got != tt.wantType {
				t.Errorf("error.type %v; want %s", got, tt.wantType)
			}
			if got, _ := path(v, "error.message").(string); !strings.Contains(got, tt.wantMessage) {
				t.Errorf("error.message %q; want it to contain %q", got, tt.wantMessage)
			}
			if got := w.Header().Get("anthropic-ratelimit-requests-remaining"); got != "10" {
				t.Errorf("remaining requests %q; want 10: an invalid request takes nothing", got)
			}
			if st := s.Stats(); st.Invalid != 1 || st.Requests != 1 {
				t.Errorf("stats %+v; want 1 request, 1 invalid", st)
			}
		})
	}
}

func TestAnthropicMethodNotAllowed(t *testing.T) {
	s := newTestServer(t, Config{Style: Anthropic})
	w := do(s, "GET", "/v1/messages", "")
	if w.Code != 405 || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET /v1/messages: %d, Allow %q; want 405, POST", w.Code, w.Header().Get("Allow"))
	}
}

func TestAnthropicMessage(t *testing.T) {
	s := newTestServer(t, Config{Style: Anthropic, Seed: 1})
	body := `{"model":"claude-x","max_tokens":1000,"system":"You are terse.","messages":[` +
		`{"role":"user","content":"What is a sluice gate?"},` +
		`{"role":"assistant","content":[{"type":"text","text":"A gate."}]},` +
		`{"role":"user","content":[{"type":"text","text":"More, please."}]}]}`
	w := do(s, "POST", "/v1/messages", body)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if got := w.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}
	if got := w.Header().Get("request-id"); !strings.HasPrefix(got, "req_") {
		t.Errorf("request-id %q; want req_...", got)
	}
	v := jsonBody(t, w)
	for _, f := range []struct {
		path string
		want any
	}{
		{"type", "message"},
		{"role", "assistant"},
		{"model", "claude-x"},
		{"content.0.type", "text"},
		{"stop_reason", "end_turn"},
		{"stop_sequence", nil},
		// "You are terse." + "What is a sluice gate?" + "A gate." + "More, please." = 56 bytes
		{"usage.input_tokens", 14.0},
	} {
		if got := path(v, f.path); got != f.want {
			t.Errorf("%s = %#v; want %#v", f.path, got, f.want)
		}
	}
	if _, ok := v["stop_sequence"]; !ok {
		t.Errorf("stop_sequence missing; want null")
	}
	if id, _ := v["id"].(string); !strings.HasPrefix(id, "msg_") {
		t.Errorf("id %q; want msg_...", id)
	}
	out := path(v, "usage.output_tokens").(float64)
	text := path(v, "content.0.text").(string)
	if out < minOutput || out > maxOutput || float64(len(strings.Fields(text))) != out {
		t.Errorf("output_tokens %v with %d words of text; want between %d and %d, one a word", out, len(strings.Fields(text)), minOutput, maxOutput)
	}
	st := s.Stats()
	if st.Accepted != 1 || st.InputTokens != 14 || st.OutputTokens != int64(out) {
		t.Errorf("stats %+v; want 1 accepted, 14 input tokens, %v output", st, out)
	}
}

func TestAnthropicStopsAtMaxTokens(t *testing.T) {
	s := newTestServer(t, Config{Style: Anthropic})
	for _, max := range []int{1, 5, 10} {
		v := jsonBody(t, do(s, "POST", "/v1/messages", message(max, 8)))
		if got := path(v, "usage.output_tokens"); got != float64(max) {
			t.Errorf("max_tokens %d: output_tokens %v; want %d", max, got, max)
		}
		if got := path(v, "stop_reason"); got != "max_tokens" {
			t.Errorf("max_tokens %d: stop_reason %v; want max_tokens", max, got)
		}
	}
}

func TestAnthropicCountTokens(t *testing.T) {
	s := newTestServer(t, Config{Style: Anthropic, InputTokens: Limit{10, time.Hour}})
	w := do(s, "POST", "/v1/messages/count_tokens", `{"model":"m","messages":[{"role":"user","content":"`+strings.Repeat("y", 400)+`"}]}`)
	if got := path(jsonBody(t, w), "input_tokens"); w.Code != 200 || got != 100.0 {
		t.Errorf("count_tokens: %d, input_tokens %v; want 200, 100", w.Code, got)
	}
	if got := w.Header().Get("anthropic-ratelimit-input-tokens-remaining"); got != "10" {
		t.Errorf("input tokens remaining %q; want 10: counting spends no tokens", got)
	}
}

// TestAnthropicInputTokens drives the input-token bucket past its limit and
// checks that retry-after is exactly long enough.
func TestAnthropicInputTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 60 a minute is one token a second; each request costs 30.
		s := newTestServer(t, Config{Style: Anthropic, InputTokens: Limit{60, time.Minute}})
		send := func() (int, string) {
			w := do(s, "POST", "/v1/messages", message(10, 120))
			return w.Code, w.Header().Get("retry-after")
		}
		for i := range 2 {
			if code, _ := send(); code != 200 {
				t.Fatalf("request %d: %d; want 200", i, code)
			}
		}
		w := do(s, "POST", "/v1/messages", message(10, 120))
		v := jsonBody(t, w)
		if w.Code != 429 || path(v, "type") != "error" || path(v, "error.type") != "rate_limit_error" {
			t.Fatalf("third request: %d %s; want 429 rate_limit_error", w.Code, w.Body)
		}
		if got := w.Header().Get("retry-after"); got != "30" {
			t.Fatalf("retry-after %q; want 30", got)
		}
		if msg := path(v, "error.message").(string); !strings.Contains(msg, "60 input tokens per minute") {
			t.Errorf("message %q; want it to name 60 input tokens per minute", msg)
		}
		for h, want := range map[string]string{
			"anthropic-ratelimit-input-tokens-limit":     "60",
			"anthropic-ratelimit-input-tokens-remaining": "0",
			"anthropic-ratelimit-input-tokens-reset":     "2000-01-01T00:01:00Z",
		} {
			if got := w.Header().Get(h); got != want {
				t.Errorf("%s = %q; want %q", h, got, want)
			}
		}
		time.Sleep(29 * time.Second)
		if code, ra := send(); code != 429 || ra != "1" {
			t.Errorf("after 29s: %d, retry-after %q; want 429, 1", code, ra)
		}
		time.Sleep(time.Second)
		if code, _ := send(); code != 200 {
			t.Errorf("after waiting retry-after: %d; want 200", code)
		}
		if st := s.Stats(); st.Throttled[reasonInput] != 2 || st.InputTokens != 90 {
			t.Errorf("stats %+v; want 2 throttled for input_tokens, 90 input tokens", st)
		}
		checkInvariant(t, s)
	})
}

func TestAnthropicOutputTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestServer(t, Config{Style: Anthropic, OutputTokens: Limit{100, time.Minute}})
		// max_tokens 10 makes every answer exactly 10 tokens.
		got := statuses(doAll(s, 12, "POST", "/v1/messages", message(10, 8)))
		if got[200] != 10 || got[429] != 2 {
			t.Errorf("12 answers of 10 tokens against 100: %v; want 10 200s, 2 429s", got)
		}
		w := do(s, "POST", "/v1/messages", message(10, 8))
		if got := w.Header().Get("retry-after"); got != "6" {
			t.Errorf("retry-after %q; want 6 (10 tokens at 100/min)", got)
		}
		if got := w.Header().Get("anthropic-ratelimit-output-tokens-limit"); got != "100" {
			t.Errorf("output tokens limit %q; want 100", got)
		}
		if st := s.Stats(); st.Throttled[reasonOutput] != 3 || st.OutputTokens != 100 {
			t.Errorf("stats %+v; want 3 throttled for output_tokens, 100 output tokens", st)
		}
	})
}

func TestAnthropicTotalTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Tokens alone is one bucket for input plus output.
		s := newTestServer(t, Config{Style: Anthropic, Tokens: Limit{100, time.Minute}})
		got := statuses(doAll(s, 3, "POST", "/v1/messages", message(10, 160))) // 40+10 each
		if got[200] != 2 || got[429] != 1 || s.Stats().Throttled[reasonTokens] != 1 {
			t.Errorf("3 requests of 50 tokens against 100: %v, %+v; want 2 200s, 1 429 for tokens", got, s.Stats())
		}
		w := do(s, "POST", "/v1/messages", message(10, 8))
		if got := w.Header().Get("anthropic-ratelimit-tokens-limit"); got != "100" {
			t.Errorf("tokens limit %q; want 100", got)
		}
		if got := w.Header().Get("anthropic-ratelimit-input-tokens-limit"); got != "" {
			t.Errorf("input tokens limit %q; want none", got)
		}

		// With InputTokens set, Tokens is ignored.
		s = newTestServer(t, Config{Style: Anthropic, Tokens: Limit{1, time.Minute}, InputTokens: Limit{1000, time.Minute}})
		w = do(s, "POST", "/v1/messages", message(10, 160))
		if w.Code != 200 || w.Header().Get("anthropic-ratelimit-tokens-limit") != "" {
			t.Errorf("Tokens with InputTokens: %d, tokens limit %q; want 200 and no tokens header", w.Code, w.Header().Get("anthropic-ratelimit-tokens-limit"))
		}
	})
}

func TestAnthropicTooLarge(t *testing.T) {
	s := newTestServer(t, Config{Style: Anthropic, InputTokens: Limit{10, time.Minute}})
	w := do(s, "POST", "/v1/messages", message(10, 400))
	if w.Code != 429 || w.Header().Get("retry-after") != "" {
		t.Errorf("100 input tokens against a bucket of 10: %d, retry-after %q; want 429 and no retry-after", w.Code, w.Header().Get("retry-after"))
	}
}

func TestAnthropicHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestServer(t, Config{Style: Anthropic, Requests: Limit{20, time.Second}, Concurrency: 1})
		time.Sleep(300 * time.Millisecond) // off the second
		w := do(s, "POST", "/v1/messages", message(10, 8))
		for h, want := range map[string]string{
			"anthropic-ratelimit-requests-limit":     "1200", // 20/s reported per minute
			"anthropic-ratelimit-requests-remaining": "19",
			// full again in 50ms, at 00:00:00.35, rounded up to the second
			"anthropic-ratelimit-requests-reset": "2000-01-01T00:00:01Z",
		} {
			if got := w.Header().Get(h); got != want {
				t.Errorf("%s = %q; want %q", h, got, want)
			}
		}
		if _, err := time.Parse(time.RFC3339, w.Header().Get("anthropic-ratelimit-requests-reset")); err != nil {
			t.Errorf("reset is not RFC 3339: %v", err)
		}
		for range 19 {
			do(s, "POST", "/v1/messages", message(10, 8))
		}
		w = do(s, "POST", "/v1/messages", message(10, 8))
		if w.Code != 429 || w.Header().Get("retry-after") != "1" || w.Header().Get("anthropic-ratelimit-requests-remaining") != "0" {
			t.Errorf("21st request: %d, retry-after %q, remaining %q; want 429, 1, 0", w.Code, w.Header().Get("retry-after"), w.Header().Get("anthropic-ratelimit-requests-remaining"))
		}
		if got := w.Header().Get("anthropic-ratelimit-requests-reset"); got != "2000-01-01T00:00:02Z" {
			t.Errorf("reset %q; want 2000-01-01T00:00:02Z (full 1s after 00:00:00.3)", got)
		}
		// Retry-after is honest: waiting it out is enough.
		time.Sleep(time.Duration(mustAtoi(t, w.Header().Get("retry-after"))) * time.Second)
		if w := do(s, "POST", "/v1/messages", message(10, 8)); w.Code != 200 {
			t.Errorf("after retry-after: %d", w.Code)
		}
	})
}

func TestAnthropicConcurrencyMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestServer(t, Config{Style: Anthropic, Concurrency: 1, Latency: FixedLatency(time.Second)})
		go do(s, "POST", "/v1/messages", message(10, 8))
		synctest.Wait()
		w := do(s, "POST", "/v1/messages", message(10, 8))
		msg, _ := path(jsonBody(t, w), "error.message").(string)
		if w.Code != 429 || !strings.HasPrefix(msg, "Number of concurrent connections has exceeded your rate limit") {
			t.Errorf("%d %q; want 429 about concurrent connections", w.Code, msg)
		}
		if got := w.Header().Get("retry-after"); got != "1" {
			t.Errorf("retry-after %q; want 1", got)
		}
	})
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}
