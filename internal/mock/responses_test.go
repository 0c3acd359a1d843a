package mock

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// responsesBody is a Responses API request body with a prompt of n bytes.
func responsesBody(maxOutput, promptBytes int) string {
	b, _ := json.Marshal(map[string]any{"model": "gpt-test", "max_output_tokens": maxOutput, "input": strings.Repeat("x", promptBytes)})
	return string(b)
}

func TestOpenAIResponses(t *testing.T) {
	s := newTestServer(t, Config{Style: OpenAI, Seed: 3})
	tests := []struct {
		name, body string
		wantInput  float64
	}{
		// "Explain sluices." 16 bytes + "Be brief." 9 bytes: 25 bytes, 6 tokens.
		{"string input", `{"model":"gpt-x","instructions":"Be brief.","input":"Explain sluices."}`, 6},
		{"message items", `{"model":"gpt-x","input":[{"role":"developer","content":"Be brief."},{"type":"message","role":"user","content":[{"type":"input_text","text":"Explain sluices."}]}]}`, 6},
		// A function call output counts by its JSON size: 60 bytes.
		{"other items", `{"model":"gpt-x","input":[{"type":"function_call_output","call_id":"c1","output":"ok"}]}`, 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(s, "POST", "/v1/responses", tt.body)
			if w.Code != 200 || w.Header().Get("x-request-id") == "" {
				t.Fatalf("status %d, x-request-id %q: %s", w.Code, w.Header().Get("x-request-id"), w.Body)
			}
			v := jsonBody(t, w)
			for _, f := range []struct {
				path string
				want any
			}{
				{"object", "response"},
				{"status", "completed"},
				{"model", "gpt-x"},
				{"incomplete_details", nil},
				{"output.0.type", "message"},
				{"output.0.role", "assistant"},
				{"output.0.status", "completed"},
				{"output.0.content.0.type", "output_text"},
				{"usage.input_tokens", tt.wantInput},
			} {
				if got := path(v, f.path); got != f.want {
					t.Errorf("%s = %#v; want %#v", f.path, got, f.want)
				}
			}
			if id, _ := v["id"].(string); !strings.HasPrefix(id, "resp_") {
				t.Errorf("id %q; want resp_...", id)
			}
			if id, _ := path(v, "output.0.id").(string); !strings.HasPrefix(id, "msg_") {
				t.Errorf("output.0.id %q; want msg_...", id)
			}
			text, _ := path(v, "output.0.content.0.text").(string)
			out, _ := path(v, "usage.output_tokens").(float64)
			if float64(len(strings.Fields(text))) != out || out < minOutput || path(v, "usage.total_tokens") != tt.wantInput+out {
				t.Errorf("text of %d words, usage %v", len(strings.Fields(text)), v["usage"])
			}
		})
	}
}

// An answer that reaches max_output_tokens is "incomplete", as the API
// says, and one that stops short is "completed".
func TestOpenAIResponsesIncomplete(t *testing.T) {
	s := newTestServer(t, Config{Style: OpenAI, Seed: 5})
	seen := map[string]int{}
	for range 60 {
		v := jsonBody(t, do(s, "POST", "/v1/responses", responsesBody(minOutputTokens, 8)))
		out := path(v, "usage.output_tokens").(float64)
		status, reason := path(v, "status"), path(v, "incomplete_details.reason")
		switch {
		case out == minOutputTokens && (status != "incomplete" || reason != "max_output_tokens" || path(v, "output.0.status") != "incomplete"):
			t.Fatalf("%v output tokens of %d allowed: status %v, reason %v; want incomplete, max_output_tokens", out, minOutputTokens, status, reason)
		case out < minOutputTokens && (status != "completed" || path(v, "incomplete_details") != nil):
			t.Fatalf("%v output tokens of %d allowed: status %v; want completed", out, minOutputTokens, status)
		}
		seen[status.(string)]++
	}
	if seen["incomplete"] == 0 || seen["completed"] == 0 {
		t.Errorf("statuses %v: the test saw only one kind", seen)
	}
}

func TestOpenAIResponsesValidation(t *testing.T) {
	tests := []struct {
		name, body  string
		wantMessage string // a part of the message
		wantParam   any
	}{
		{"invalid JSON", `{"model":`, "We could not parse the JSON body", nil},
		{"missing model", `{"input":"hi"}`, "Missing required parameter: 'model'.", "model"},
		{"missing input", `{"model":"m"}`, "Missing required parameter: 'input'.", "input"},
		{"empty input", `{"model":"m","input":[]}`, "Invalid 'input': empty array.", "input"},
		{"input a number", `{"model":"m","input":3}`, "Invalid type for 'input'", "input"},
		{"bad role", `{"model":"m","input":[{"role":"robot","content":"hi"}]}`, "Invalid value: 'robot'", "input[0].role"},
		{"small max_output_tokens", `{"model":"m","input":"hi","max_output_tokens":15}`, "Expected a value >= 16, but got 15 instead.", "max_output_tokens"},
		{"instructions not a string", `{"model":"m","input":"hi","instructions":5}`, "Invalid type for 'instructions': expected string.", "instructions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, Config{Style: OpenAI, Requests: Limit{10, time.Second}})
			w := do(s, "POST", "/v1/responses", tt.body)
			if w.Code != 400 {
				t.Fatalf("status %d; want 400 (body %s)", w.Code, w.Body)
			}
			v := jsonBody(t, w)
			if got := path(v, "error.type"); got != "invalid_request_error" {
				t.Errorf("error.type %v; want invalid_request_error", got)
			}
			if got, _ := path(v, "error.message").(string); !strings.Contains(got, tt.wantMessage) {
				t.Errorf("error.message %q; want it to contain %q", got, tt.wantMessage)
			}
			if got := path(v, "error.param"); got != tt.wantParam {
				t.Errorf("error.param %#v; want %#v", got, tt.wantParam)
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

// Responses and chat completions draw on the same request and token
// limits, as OpenAI counts them.
func TestOpenAIResponsesShareLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestServer(t, Config{Style: OpenAI, Requests: Limit{3, time.Second}, Tokens: Limit{120, time.Minute}})
		if w := do(s, "POST", "/v1/chat/completions", chat(10, 160)); w.Code != 200 { // 50 tokens
			t.Fatalf("chat: %d %s", w.Code, w.Body)
		}
		w := do(s, "POST", "/v1/responses", responsesBody(16, 160)) // 40 in, 10 to 16 out, 16 counted (max_output_tokens)
		used := 50 + 40 + 16.0
		if w.Code != 200 || w.Header().Get("x-ratelimit-remaining-tokens") != strconv.FormatFloat(120-used, 'f', -1, 64) || w.Header().Get("x-ratelimit-remaining-requests") != "1" {
			t.Fatalf("responses after chat: %d, remaining tokens %s, requests %s; want 200, %v, 1",
				w.Code, w.Header().Get("x-ratelimit-remaining-tokens"), w.Header().Get("x-ratelimit-remaining-requests"), 120-used)
		}
		w = do(s, "POST", "/v1/responses", responsesBody(16, 160)) // 14 tokens left, 56 wanted
		if v := jsonBody(t, w); w.Code != 429 || path(v, "error.type") != "tokens" || path(v, "error.code") != "rate_limit_exceeded" {
			t.Errorf("responses over the token limit: %d %s; want 429 tokens", w.Code, w.Body)
		}
		// Stats count what was used: 80 in, 10 + 10 to 16 out.
		if st := s.Stats(); st.Accepted != 2 || st.Throttled[reasonTokens] != 1 || st.InputTokens != 80 || st.OutputTokens < 20 || st.OutputTokens > 26 {
			t.Errorf("stats %+v; want 2 accepted, 1 throttled for tokens, 80 input and 20 to 26 output tokens used", st)
		}
		checkInvariant(t, s)
	})
}

func TestOpenAIResponsesStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 10 to 20 output tokens at 10 a second after 200ms.
		s := newTestServer(t, Config{Style: OpenAI, Latency: FixedLatency(200 * time.Millisecond), OutputRate: 10, Seed: 4})
		start := time.Now()
		w := do(s, "POST", "/v1/responses", `{"model":"gpt-s","stream":true,"max_output_tokens":20,"input":"`+strings.Repeat("z", 80)+`"}`)
		elapsed := time.Since(start)
		if w.Code != 200 || w.Header().Get("Content-Type") != "text/event-stream" {
			t.Fatalf("%d %q; want 200 text/event-stream", w.Code, w.Header().Get("Content-Type"))
		}
		events := parseSSE(t, w.Body.String())
		var names []string
		var text strings.Builder
		for i, e := range events {
			names = append(names, e.name)
			if e.data["type"] != e.name || e.data["sequence_number"] != float64(i) {
				t.Errorf("event %d %s: type %v, sequence_number %v", i, e.name, e.data["type"], e.data["sequence_number"])
			}
			if e.name == "response.output_text.delta" {
				text.WriteString(e.data["delta"].(string))
			}
		}
		last := events[len(events)-1]
		final := last.data["response"]
		out := path(final, "usage.output_tokens").(float64)
		deltas := (int(out) + wordsPerChunk - 1) / wordsPerChunk
		want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"}
		for range deltas {
			want = append(want, "response.output_text.delta")
		}
		finish := "response.completed"
		if out == 20 {
			finish = "response.incomplete"
		}
		want = append(want, "response.output_text.done", "response.content_part.done", "response.output_item.done", finish)
		if !slices.Equal(names, want) {
			t.Errorf("events %v; want %v", names, want)
		}
		if got := path(final, "output.0.content.0.text"); got != text.String() {
			t.Errorf("the deltas say %q, the final response %q", text.String(), got)
		}
		if path(final, "usage.input_tokens") != 20.0 || path(final, "usage.total_tokens") != 20+out {
			t.Errorf("final usage %v; want 20 input tokens", path(final, "usage"))
		}
		first := events[0].data["response"]
		if path(first, "status") != "in_progress" || path(first, "usage") != nil || len(path(first, "output").([]any)) != 0 {
			t.Errorf("response.created carries %v; want in_progress, no output, usage null", first)
		}
		if want := 200*time.Millisecond + time.Duration(out)*100*time.Millisecond; elapsed != want {
			t.Errorf("stream took %v; want %v (latency, then %v tokens at 10/s)", elapsed, want, out)
		}
		if st := s.Stats(); st.Accepted != 1 || float64(st.OutputTokens) != out {
			t.Errorf("stats %+v; want 1 accepted, %v output tokens", st, out)
		}
	})
}
