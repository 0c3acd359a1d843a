package mock

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestOpenAIValidation(t *testing.T) {
	tests := []struct {
		name, path, body string
		wantStatus       int
		wantMessage      string // a part of the message
		wantParam        any
	}{
		{"invalid JSON", "/v1/chat/completions", `{"model":`, 400, "We could not parse the JSON body", nil},
		{"missing model", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, 400, "you must provide a model parameter", nil},
		{"missing messages", "/v1/chat/completions", `{"model":"m"}`, 400, "Missing required parameter: 'messages'.", "messages"},
		{"empty messages", "/v1/chat/completions", `{"model":"m","messages":[]}`, 400, "Invalid 'messages': empty array.", "messages"},
		{"bad role", "/v1/chat/completions", `{"model":"m","messages":[{"role":"robot","content":"hi"}]}`, 400, "Invalid value: 'robot'", "messages[0].role"},
		{"messages not an array", "/v1/chat/completions", `{"model":"m","messages":"hi"}`, 400, "Invalid type for 'messages'", "messages"},
		{"zero max_tokens", "/v1/chat/completions", `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, 400, "integer below minimum value", "max_tokens"},
		{"embeddings invalid JSON", "/v1/embeddings", `nope`, 400, "We could not parse the JSON body", nil},
		{"embeddings missing model", "/v1/embeddings", `{"input":"hi"}`, 400, "you must provide a model parameter", nil},
		{"embeddings missing input", "/v1/embeddings", `{"model":"m"}`, 400, "Missing required parameter: 'input'.", "input"},
		{"embeddings empty input", "/v1/embeddings", `{"model":"m","input":""}`, 400, "'$.input' is invalid", nil},
		{"embeddings empty array", "/v1/embeddings", `{"model":"m","input":[]}`, 400, "'$.input' is invalid", nil},
		{"embeddings bad format", "/v1/embeddings", `{"model":"m","input":"hi","encoding_format":"hex"}`, 400, "Invalid value: 'hex'", "encoding_format"},
		{"embeddings bad dimensions", "/v1/embeddings", `{"model":"m","input":"hi","dimensions":0}`, 400, "Invalid 'dimensions'", "dimensions"},
		{"unknown path", "/v1/completions", `{}`, 404, "Invalid URL (POST /v1/completions)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, Config{Style: OpenAI, Requests: Limit{10, time.Second}})
			w := do(s, "POST", tt.path, tt.body)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d; want %d (body %s)", w.Code, tt.wantStatus, w.Body)
			}
			v := jsonBody(t, w)
			e, ok := v["error"].(map[string]any)
			if !ok {
				t.Fatalf("body %s has no error object", w.Body)
			}
			for _, k := range []string{"message", "type", "param", "code"} {
				if _, ok := e[k]; !ok {
					t.Errorf("error.%s missing", k)
				}
			}
			if got := e["type"]; got != "invalid_request_error" {
				t.Errorf("error.type %v; want invalid_request_error", got)
			}
			if got, _ := e["message"].(string); !strings.Contains(got, tt.wantMessage) {
				t.Errorf("error.message %q; want it to contain %q", got, tt.wantMessage)
			}
			if got := e["param"]; got != tt.wantParam {
				t.Errorf("error.param %#v; want %#v", got, tt.wantParam)
			}
			if got := e["code"]; got != nil {
				t.Errorf("error.code %#v; want null", got)
			}
			if got := w.Header().Get("x-ratelimit-remaining-requests"); got != "10" {
				t.Errorf("remaining requests %q; want 10: an invalid request takes nothing", got)
			}
			if st := s.Stats(); st.Invalid != 1 {
				t.Errorf("stats %+v; want 1 invalid", st)
			}
		})
	}
}

func TestOpenAIChat(t *testing.T) {
	s := newTestServer(t, Config{Style: OpenAI, Seed: 2})
	body := `{"model":"gpt-x","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Explain sluices."}]}]}`
	w := do(s, "POST", "/v1/chat/completions", body)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if got := w.Header().Get("x-request-id"); got == "" {
		t.Errorf("no x-request-id")
	}
	v := jsonBody(t, w)
	for _, f := range []struct {
		path string
		want any
	}{
		{"object", "chat.completion"},
		{"model", "gpt-x"},
		{"choices.0.index", 0.0},
		{"choices.0.message.role", "assistant"},
		{"choices.0.finish_reason", "stop"},
		{"usage.prompt_tokens", 6.0}, // "Be brief." + "Explain sluices." = 25 bytes
	} {
		if got := path(v, f.path); got != f.want {
			t.Errorf("%s = %#v; want %#v", f.path, got, f.want)
		}
	}
	if id, _ := v["id"].(string); !strings.HasPrefix(id, "chatcmpl-") {
		t.Errorf("id %q; want chatcmpl-...", id)
	}
	completion := path(v, "usage.completion_tokens").(float64)
	text := path(v, "choices.0.message.content").(string)
	if float64(len(strings.Fields(text))) != completion || path(v, "usage.total_tokens") != 6+completion {
		t.Errorf("text of %d words, usage %v", len(strings.Fields(text)), v["usage"])
	}

	// A completion that reaches max_tokens finishes with "length".
	v = jsonBody(t, do(s, "POST", "/v1/chat/completions", `{"model":"m","max_completion_tokens":3,"messages":[{"role":"user","content":"hi"}]}`))
	if path(v, "choices.0.finish_reason") != "length" || path(v, "usage.completion_tokens") != 3.0 {
		t.Errorf("max_completion_tokens 3: %v", v)
	}
}

func TestOpenAIEmbeddings(t *testing.T) {
	s := newTestServer(t, Config{Style: OpenAI, Tokens: Limit{1000, time.Minute}})
	tests := []struct {
		input      string
		wantN      int
		wantTokens float64
	}{
		{`"hello world, twenty bytes"`, 1, 6},
		{`["abcdefgh","abcd"]`, 2, 3},
		{`[1,2,3,4,5]`, 1, 5},
		{`[[1,2],[3,4,5]]`, 2, 5},
	}
	for _, tt := range tests {
		w := do(s, "POST", "/v1/embeddings", `{"model":"emb","input":`+tt.input+`}`)
		v := jsonBody(t, w)
		data, _ := v["data"].([]any)
		if w.Code != 200 || v["object"] != "list" || len(data) != tt.wantN || path(v, "usage.prompt_tokens") != tt.wantTokens || path(v, "usage.total_tokens") != tt.wantTokens {
			t.Errorf("input %s: %d %s; want %d embeddings and %v tokens", tt.input, w.Code, w.Body, tt.wantN, tt.wantTokens)
			continue
		}
		for i := range data {
			vec, _ := path(v, "data."+string(rune('0'+i))+".embedding").([]any)
			if path(v, "data."+string(rune('0'+i))+".object") != "embedding" || len(vec) != embeddingSize {
				t.Errorf("input %s: data[%d] = %v", tt.input, i, data[i])
			}
		}
	}
	// The same input always gets the same unit vector, in float or base64.
	a := jsonBody(t, do(s, "POST", "/v1/embeddings", `{"model":"emb","input":"same"}`))
	b := jsonBody(t, do(s, "POST", "/v1/embeddings", `{"model":"emb","input":"same","encoding_format":"base64","dimensions":8}`))
	floats := path(a, "data.0.embedding").([]any)
	raw, err := base64.StdEncoding.DecodeString(path(b, "data.0.embedding").(string))
	if err != nil || len(raw) != 4*len(floats) {
		t.Fatalf("base64 embedding %v: %v", path(b, "data.0.embedding"), err)
	}
	norm := 0.0
	for i, f := range floats {
		g := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		if float32(f.(float64)) != g {
			t.Errorf("component %d: float %v, base64 %v", i, f, g)
		}
		norm += f.(float64) * f.(float64)
	}
	if math.Abs(norm-1) > 1e-5 {
		t.Errorf("|embedding|² = %v; want 1", norm)
	}
	if st := s.Stats(); st.InputTokens != 6+3+5+5+1+1 || st.OutputTokens != 0 {
		t.Errorf("stats %+v; want 21 input tokens, no output", st)
	}
}

func TestOpenAIHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestServer(t, Config{Style: OpenAI, Requests: Limit{20, time.Second}, Tokens: Limit{600, time.Minute}})
		w := do(s, "POST", "/v1/chat/completions", chat(10, 160)) // 50 tokens
		for h, want := range map[string]string{
			"x-ratelimit-limit-requests":     "1200",
			"x-ratelimit-remaining-requests": "19",
			"x-ratelimit-reset-requests":     "50ms",
			"x-ratelimit-limit-tokens":       "600",
			"x-ratelimit-remaining-tokens":   "550",
			"x-ratelimit-reset-tokens":       "5s",
		} {
			if got := w.Header().Get(h); got != want {
				t.Errorf("%s = %q; want %q", h, got, want)
			}
		}
		for range 9 {
			do(s, "POST", "/v1/chat/completions", chat(10, 160))
		}
		// 11 requests: 550 tokens taken, refilled 0; reset is 55s away.
		w = do(s, "POST", "/v1/chat/completions", chat(10, 160))
		if w.Code != 200 {
			t.Fatalf("11th request: %d %s", w.Code, w.Body)
		}
		if got := w.Header().Get("x-ratelimit-reset-tokens"); got != "55s" {
			t.Errorf("reset tokens %q; want 55s", got)
		}
		if _, err := time.ParseDuration(w.Header().Get("x-ratelimit-reset-requests")); err != nil {
			t.Errorf("reset requests is not a Go duration: %v", err)
		}
	})
}

func TestOpenAIThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestServer(t, Config{Style: OpenAI, Requests: Limit{2, time.Second}, Tokens: Limit{100, time.Minute}})
		do(s, "POST", "/v1/chat/completions", chat(10, 160)) // 50 tokens
		do(s, "POST", "/v1/chat/completions", chat(10, 4))   // 11 tokens
		w := do(s, "POST", "/v1/chat/completions", chat(10, 4))
		v := jsonBody(t, w)
		if w.Code != 429 || path(v, "error.type") != "requests" || path(v, "error.code") != "rate_limit_exceeded" || path(v, "error.param") != nil {
			t.Fatalf("third request at 2/s: %d %s; want 429 requests rate_limit_exceeded", w.Code, w.Body)
		}
		if msg := path(v, "error.message").(string); !strings.HasPrefix(msg, "Rate limit reached for requests") {
			t.Errorf("message %q", msg)
		}
		// The numbers are in one unit, per minute, and say why it was
		// refused: used and requested exceed the limit (outside review:
		// "Limit 120, Used 1, Requested 1").
		var limit, used, asked int
		msg := path(v, "error.message").(string)
		if _, err := fmt.Sscanf(msg[strings.Index(msg, "Limit "):], "Limit %d, Used %d, Requested %d", &limit, &used, &asked); err != nil || limit != 120 || used+asked <= limit {
			t.Errorf("message %q (%v): want Limit 120 and Used + Requested over it", msg, err)
		}
		if ra, ms := w.Header().Get("retry-after"), w.Header().Get("retry-after-ms"); ra != "1" || ms != "500" {
			t.Errorf("retry-after %q, retry-after-ms %q; want 1, 500", ra, ms)
		}
		time.Sleep(500 * time.Millisecond)

		// 39 tokens left, plus 0.83 refilled in 0.5s; 50 wanted: 10.17
		// more tokens at 100/min is 6.1s.
		w = do(s, "POST", "/v1/chat/completions", chat(10, 160))
		v = jsonBody(t, w)
		if w.Code != 429 || path(v, "error.type") != "tokens" || path(v, "error.code") != "rate_limit_exceeded" {
			t.Fatalf("request over the token limit: %d %s; want 429 tokens", w.Code, w.Body)
		}
		if ra, ms := w.Header().Get("retry-after"), w.Header().Get("retry-after-ms"); ra != "7" || ms != "6100" {
			t.Errorf("retry-after %q, retry-after-ms %q; want 7, 6100", ra, ms)
		}
		time.Sleep(6099 * time.Millisecond)
		if w := do(s, "POST", "/v1/chat/completions", chat(10, 160)); w.Code != 429 {
			t.Errorf("1ms before retry-after-ms: %d; want 429", w.Code)
		}
		time.Sleep(time.Millisecond)
		if w := do(s, "POST", "/v1/chat/completions", chat(10, 160)); w.Code != 200 {
			t.Errorf("after retry-after-ms: %d %s; want 200", w.Code, w.Body)
		}
		if st := s.Stats(); st.Throttled[reasonRequests] != 1 || st.Throttled[reasonTokens] != 2 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestOpenAIQuota(t *testing.T) {
	s := newTestServer(t, Config{Style: OpenAI, Quota: 120})
	for i := range 3 { // 50 tokens each: 50, 100, 150 used
		if w := do(s, "POST", "/v1/chat/completions", chat(10, 160)); w.Code != 200 {
			t.Fatalf("request %d within quota: %d %s", i, w.Code, w.Body)
		}
	}
	for _, p := range []string{"/v1/chat/completions", "/v1/embeddings"} {
		w := do(s, "POST", p, `{"model":"m","input":"x","messages":[{"role":"user","content":"x"}]}`)
		v := jsonBody(t, w)
		if w.Code != 429 || path(v, "error.type") != "insufficient_quota" || path(v, "error.code") != "insufficient_quota" {
			t.Errorf("%s with quota used up: %d %s; want 429 insufficient_quota", p, w.Code, w.Body)
		}
		if msg, _ := path(v, "error.message").(string); !strings.HasPrefix(msg, "You exceeded your current quota, please check your plan and billing details.") {
			t.Errorf("message %q", msg)
		}
		if w.Header().Get("retry-after") != "" {
			t.Errorf("retry-after %q on insufficient_quota; want none: waiting does not help", w.Header().Get("retry-after"))
		}
	}
	if st := s.Stats(); st.Throttled[reasonQuota] != 2 {
		t.Errorf("stats %+v; want 2 throttled for quota", st)
	}
}
