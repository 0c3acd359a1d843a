package mock

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// event is one server-sent event.
type event struct {
	name string
	data map[string]any
	raw  string
}

// parseSSE splits an event stream into events, failing on anything that is
// not "event:" or "data:" lines in blank-line separated blocks.
func parseSSE(t *testing.T, body string) []event {
	t.Helper()
	if !strings.HasSuffix(body, "\n\n") {
		t.Fatalf("stream does not end with a blank line: %q", body)
	}
	var events []event
	for _, block := range strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n") {
		var e event
		for _, line := range strings.Split(block, "\n") {
			switch k, v, _ := strings.Cut(line, ": "); k {
			case "event":
				e.name = v
			case "data":
				e.raw = v
			default:
				t.Fatalf("unexpected line %q in %q", line, block)
			}
		}
		if e.raw != "[DONE]" {
			if err := json.Unmarshal([]byte(e.raw), &e.data); err != nil {
				t.Fatalf("data %q is not JSON: %v", e.raw, err)
			}
		}
		events = append(events, e)
	}
	return events
}

func TestAnthropicStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 10 tokens at 10 a second after 200ms: the stream takes 1.2s.
		s := newTestServer(t, Config{Style: Anthropic, Latency: FixedLatency(200 * time.Millisecond), OutputRate: 10})
		start := time.Now()
		w := do(s, "POST", "/v1/messages", `{"model":"claude-s","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"`+strings.Repeat("z", 80)+`"}]}`)
		if d := time.Since(start); d != 1200*time.Millisecond {
			t.Errorf("stream took %v; want 1.2s", d)
		}
		if w.Code != 200 || w.Header().Get("Content-Type") != "text/event-stream" {
			t.Fatalf("%d %q; want 200 text/event-stream", w.Code, w.Header().Get("Content-Type"))
		}
		events := parseSSE(t, w.Body.String())
		var names []string
		var text strings.Builder
		for _, e := range events {
			names = append(names, e.name)
			if got := e.data["type"]; got != e.name {
				t.Errorf("event %s has data type %v", e.name, got)
			}
			if e.name == "content_block_delta" {
				if path(e.data, "delta.type") != "text_delta" {
					t.Errorf("delta %v; want text_delta", e.data)
				}
				text.WriteString(path(e.data, "delta.text").(string))
			}
		}
		want := []string{"message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"}
		if !slices.Equal(names, want) {
			t.Errorf("events %v; want %v", names, want)
		}
		first, delta := events[0].data, events[len(events)-2].data
		for _, f := range []struct {
			v    any
			path string
			want any
		}{
			{first, "message.model", "claude-s"},
			{first, "message.role", "assistant"},
			{first, "message.usage.input_tokens", 20.0},
			{first, "message.stop_reason", nil},
			{delta, "delta.stop_reason", "max_tokens"},
			{delta, "usage.output_tokens", 10.0},
		} {
			if got := path(f.v, f.path); got != f.want {
				t.Errorf("%s = %#v; want %#v", f.path, got, f.want)
			}
		}
		if n := len(strings.Fields(text.String())); n != 10 {
			t.Errorf("streamed text %q has %d words; want 10", text.String(), n)
		}
		if st := s.Stats(); st.Accepted != 1 || st.InputTokens != 20 || st.OutputTokens != 10 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestOpenAIStream(t *testing.T) {
	for _, includeUsage := range []bool{false, true} {
		s := newTestServer(t, Config{Style: OpenAI})
		body := `{"model":"gpt-s","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"` + strings.Repeat("z", 40) + `"}]`
		if includeUsage {
			body += `,"stream_options":{"include_usage":true}`
		}
		w := do(s, "POST", "/v1/chat/completions", body+"}")
		if w.Code != 200 || w.Header().Get("Content-Type") != "text/event-stream" {
			t.Fatalf("%d %q; want 200 text/event-stream", w.Code, w.Header().Get("Content-Type"))
		}
		events := parseSSE(t, w.Body.String())
		if last := events[len(events)-1]; last.raw != "[DONE]" || last.name != "" {
			t.Fatalf("last event %+v; want data: [DONE]", last)
		}
		events = events[:len(events)-1]
		var usage map[string]any
		if includeUsage {
			last := events[len(events)-1]
			events = events[:len(events)-1]
			if choices, _ := last.data["choices"].([]any); len(choices) != 0 {
				t.Errorf("usage chunk has choices %v", choices)
			}
			usage, _ = last.data["usage"].(map[string]any)
		}
		var text strings.Builder
		for i, e := range events {
			if e.name != "" || e.data["object"] != "chat.completion.chunk" || e.data["model"] != "gpt-s" {
				t.Errorf("chunk %d: %+v", i, e)
			}
			if u, ok := e.data["usage"]; ok != includeUsage || u != nil {
				t.Errorf("chunk %d: usage %v, present %v; want null exactly when include_usage", i, u, ok)
			}
			if c, ok := path(e.data, "choices.0.delta.content").(string); ok {
				text.WriteString(c)
			}
			finish := path(e.data, "choices.0.finish_reason")
			if last := i == len(events)-1; (finish != nil) != last || last && finish != "length" {
				t.Errorf("chunk %d: finish_reason %v", i, finish)
			}
		}
		if path(events[0].data, "choices.0.delta.role") != "assistant" {
			t.Errorf("first chunk %v has no assistant role", events[0].data)
		}
		if n := len(strings.Fields(text.String())); n != 9 {
			t.Errorf("streamed text %q has %d words; want 9", text.String(), n)
		}
		if includeUsage && (usage["prompt_tokens"] != 10.0 || usage["completion_tokens"] != 9.0 || usage["total_tokens"] != 19.0) {
			t.Errorf("usage %v; want 10 + 9 = 19", usage)
		}
	}
}

func TestStreamPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 8 words in chunks of 4 at 4 tokens a second: a delta a second.
		s := newTestServer(t, Config{Style: OpenAI, OutputRate: 4})
		pr, pw := newPipeWriter()
		r := newStreamRequest(`{"model":"m","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		go func() {
			s.ServeHTTP(pw, r)
			pw.close()
		}()
		var arrivals []time.Duration
		start := time.Now()
		for chunk := range pr {
			if strings.Contains(chunk, `"content":"`) && !strings.Contains(chunk, `"content":""`) {
				arrivals = append(arrivals, time.Since(start))
			}
		}
		want := []time.Duration{time.Second, 2 * time.Second}
		if !slices.Equal(arrivals, want) {
			t.Errorf("text chunks arrived at %v; want %v", arrivals, want)
		}
	})
}
