package sluice_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// The wants are counted by hand: input is the characters the model reads
// (ASCII one quarter of a token, others a whole token) rounded up to
// tokens, plus sluice.MediaTokens an image; output is the request's cap.
func TestEstimateCost(t *testing.T) {
	const def = sluice.DefaultOutputTokens
	const img = sluice.MediaTokens
	tests := []struct {
		name, method, path, body string
		want                     sluice.Cost
		wantOK                   bool
	}{
		{
			name: "anthropic text", path: "/v1/messages",
			// "Be brief." 9 + "Hello, world" 12 = 21 -> 6; model and metadata not counted
			body:   `{"model":"claude-sonnet-4-5","max_tokens":1024,"system":"Be brief.","metadata":{"user_id":"someone-long"},"messages":[{"role":"user","content":"Hello, world"}]}`,
			want:   sluice.Cost{InputTokens: 6, OutputTokens: 1024},
			wantOK: true,
		},
		{
			name: "anthropic blocks and an image", path: "/v1/messages",
			// "abcd" 4 + "What is this?" 13 = 17 quarters, + an image
			body:   `{"model":"claude","max_tokens":100,"system":[{"type":"text","text":"abcd"}],"messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="}}]}]}`,
			want:   sluice.Cost{InputTokens: (17 + 4*img + 3) / 4, OutputTokens: 100},
			wantOK: true,
		},
		{
			name: "anthropic tools, tool use, thinking", path: "/v1/messages",
			// tools JSON 85 + "Weather in Paris?" 17 + "Check." 6 + input {"city":"Paris"} 16 + "Sunny" 5 = 129 -> 33
			body: `{"model":"claude","max_tokens":200,"tools":[{"name":"get_weather","description":"Weather now","input_schema":{"type":"object"}}],"messages":[` +
				`{"role":"user","content":"Weather in Paris?"},` +
				`{"role":"assistant","content":[{"type":"thinking","thinking":"Check.","signature":"c2lnbmF0dXJl"},{"type":"tool_use","id":"t1","name":"get_weather","input":{"city":"Paris"}}]},` +
				`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"Sunny"}]}]}`,
			want:   sluice.Cost{InputTokens: 33, OutputTokens: 200},
			wantOK: true,
		},
		{
			name: "anthropic without max_tokens", path: "/v1/messages",
			body:   `{"model":"claude","messages":[{"role":"user","content":"abcd"}]}`,
			want:   sluice.Cost{InputTokens: 1, OutputTokens: def},
			wantOK: true,
		},
		{
			name: "chat without a cap", path: "/v1/chat/completions",
			// "sys" 3 + "abcdefgh" 8 = 11 -> 3
			body:   `{"model":"gpt-4o","messages":[{"role":"system","content":"sys"},{"role":"user","content":"abcdefgh"}]}`,
			want:   sluice.Cost{InputTokens: 3, OutputTokens: def},
			wantOK: true,
		},
		{
			name: "chat: max_completion_tokens over max_tokens, times n", path: "/v1/chat/completions",
			body:   `{"model":"o3","max_tokens":10,"max_completion_tokens":50,"n":2,"messages":[{"role":"user","content":"abcd"}]}`,
			want:   sluice.Cost{InputTokens: 1, OutputTokens: 100},
			wantOK: true,
		},
		{
			name: "chat image part", path: "/v1/chat/completions",
			body:   `{"model":"gpt-4o","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"abcd"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAAAAAAAAAAAAAAAAAA"}}]}]}`,
			want:   sluice.Cost{InputTokens: (4 + 4*img + 3) / 4, OutputTokens: 5},
			wantOK: true,
		},
		{
			name: "chat tools and tool calls", path: "/v1/chat/completions",
			// tools JSON 61 + "Hi" 2 + arguments {"a":1} 7 + "42" 2 = 72 -> 18
			body: `{"model":"gpt-4o","max_tokens":10,"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"messages":[` +
				`{"role":"user","content":"Hi"},` +
				`{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},` +
				`{"role":"tool","tool_call_id":"c1","content":"42"}]}`,
			want:   sluice.Cost{InputTokens: 18, OutputTokens: 10},
			wantOK: true,
		},
		{
			name: "azure chat path with a query-less base", path: "/openai/deployments/gpt4/chat/completions",
			body:   `{"messages":[{"role":"user","content":"abcd"}],"max_tokens":7}`,
			want:   sluice.Cost{InputTokens: 1, OutputTokens: 7},
			wantOK: true,
		},
		{
			name: "legacy completions default to 16", path: "/v1/completions",
			body:   `{"model":"gpt-3.5-turbo-instruct","prompt":"abcd"}`,
			want:   sluice.Cost{InputTokens: 1, OutputTokens: 16},
			wantOK: true,
		},
		{
			name: "legacy completions: best_of beats n", path: "/v1/completions",
			// "abcd" 4 quarters + 3 token ids of 4 = 16 -> 4
			body:   `{"model":"x","prompt":["abcd",[1,2,3]],"max_tokens":10,"n":2,"best_of":5}`,
			want:   sluice.Cost{InputTokens: 4, OutputTokens: 50},
			wantOK: true,
		},
		{
			name: "responses string input", path: "/v1/responses",
			// "abc" 3 + "hello" 5 = 8 -> 2
			body:   `{"model":"gpt-4.1","instructions":"abc","input":"hello","max_output_tokens":300}`,
			want:   sluice.Cost{InputTokens: 2, OutputTokens: 300},
			wantOK: true,
		},
		{
			name: "responses items", path: "/v1/responses",
			// "abcd" 4 + image + function_call arguments {} 2 + output "ok" 2 = 8 quarters + image
			body: `{"model":"gpt-4.1","input":[{"role":"user","content":[{"type":"input_text","text":"abcd"},{"type":"input_image","image_url":"https://example.com/a.png"}]},` +
				`{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"ok"}]}`,
			want:   sluice.Cost{InputTokens: (8 + 4*img + 3) / 4, OutputTokens: def},
			wantOK: true,
		},
		{
			name: "embeddings strings", path: "/v1/embeddings",
			body:   `{"model":"text-embedding-3-small","input":["abcd","efgh"]}`,
			want:   sluice.Cost{InputTokens: 2},
			wantOK: true,
		},
		{
			name: "embeddings token arrays", path: "/v1/embeddings",
			body:   `{"model":"text-embedding-3-small","input":[[1,2,3],[4]]}`,
			want:   sluice.Cost{InputTokens: 4},
			wantOK: true,
		},
		{
			name: "non-ASCII counts a token a character", path: "/v1/messages",
			// h é l l o: 1+4+1+1+1 = 8; é t é escaped: 4+1+4 = 9; 日本: 8; an emoji as a surrogate pair: 4; a\nb: 3. 32 -> 8
			body:   `{"max_tokens":1,"messages":[{"role":"user","content":"héllo"},{"role":"user","content":"\u00e9t\u00e9"},{"role":"user","content":"日本"},{"role":"user","content":"\ud83d\ude00"},{"role":"user","content":"a\nb"}]}`,
			want:   sluice.Cost{InputTokens: 8, OutputTokens: 1},
			wantOK: true,
		},
		{
			name: "trailing slash", path: "/v1/messages/",
			body:   `{"max_tokens":3,"messages":[]}`,
			want:   sluice.Cost{OutputTokens: 3},
			wantOK: true,
		},
		{
			name: "a huge cap is bounded", path: "/v1/chat/completions",
			body:   `{"max_tokens":1e300,"n":1000,"messages":[]}`,
			want:   sluice.Cost{OutputTokens: 1<<31 - 1}, // saturated, not wrapped
			wantOK: true,
		},
		{name: "a negative cap is refused", path: "/v1/chat/completions", body: `{"max_tokens":-5,"messages":[]}`},
		{
			name: "a null cap is no cap", path: "/v1/chat/completions",
			body:   `{"max_tokens":null,"messages":[]}`,
			want:   sluice.Cost{OutputTokens: def},
			wantOK: true,
		},
		{
			name: "unknown path, chat shape", path: "/model/claude/invoke",
			body:   `{"anthropic_version":"bedrock-2023-05-31","max_tokens":9,"messages":[{"role":"user","content":"abcd"}]}`,
			want:   sluice.Cost{InputTokens: 1, OutputTokens: 9},
			wantOK: true,
		},
		{
			name: "no path, responses shape", path: "",
			body:   `{"instructions":"x","input":"abcd"}`,
			want:   sluice.Cost{InputTokens: 2, OutputTokens: def},
			wantOK: true,
		},
		{
			name: "no path, embeddings shape", path: "",
			body:   `{"model":"e","input":"abcd"}`,
			want:   sluice.Cost{InputTokens: 1},
			wantOK: true,
		},
		{
			name: "a segment, not a suffix", path: "/v1/mymessages",
			body: `{"text":"abcd"}`,
		},
		// Free, or limited apart from the model's tokens: ok, and no tokens.
		{name: "count_tokens is free", path: "/v1/messages/count_tokens", wantOK: true,
			body: `{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"` + strings.Repeat("lorem ipsum ", 1000) + `"}]}`},
		{name: "count_tokens behind a prefix", path: "/anthropic/v1/messages/count_tokens/", wantOK: true,
			body: `{"messages":[{"role":"user","content":"hi"}],"max_tokens":9000}`},
		{name: "OpenAI input token counts are free", path: "/v1/responses/input_tokens", wantOK: true,
			body: `{"model":"gpt-5","input":"` + strings.Repeat("a", 4000) + `"}`},
		{name: "batches are not messages", path: "/v1/messages/batches", wantOK: true,
			body: `{"requests":[{"custom_id":"a","params":{"max_tokens":1000,"messages":[]}}]}`},
		{name: "OpenAI batches", path: "/v1/batches", wantOK: true,
			body: `{"input_file_id":"file-1","endpoint":"/v1/chat/completions","completion_window":"24h"}`},
		{name: "file uploads", path: "/v1/files", wantOK: true, body: "--x\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--x--"},
		{name: "count_tokens alone is no known endpoint", path: "/v1/count_tokens", body: `{"text":"a"}`},
		{name: "GET", method: "GET", path: "/v1/messages", body: `{"messages":[]}`},
		{name: "not an object", path: "/v1/messages", body: `[{"messages":[]}]`},
		{name: "not JSON", path: "/v1/chat/completions", body: `messages=hi`},
		{name: "bad JSON", path: "/v1/chat/completions", body: `{"messages":[}`},
		{name: "a wrong type", path: "/v1/chat/completions", body: `{"messages":[],"max_tokens":"ten"}`},
		{name: "empty", path: "/v1/messages", body: ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "POST"
			}
			got, ok := sluice.EstimateCost(method, tt.path, []byte(tt.body))
			got.NoRefund = false // TestEstimateNoRefund's
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("EstimateCost(%s %s) = %+v, %v; want %+v, %v", method, tt.path, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzEstimateCost(f *testing.F) {
	for _, s := range []struct{ path, body string }{
		{"/v1/messages", `{"model":"claude","max_tokens":1024,"system":[{"type":"text","text":"x"}],"messages":[{"role":"user","content":[{"type":"text","text":"hi \u00e9"},{"type":"image","source":{}}]}]}`},
		{"/v1/chat/completions", `{"messages":[{"role":"assistant","content":null,"tool_calls":[{"function":{"arguments":"{}"}}]}],"n":3,"max_completion_tokens":5}`},
		{"/v1/responses", `{"input":[{"type":"function_call_output","output":"x"}],"max_output_tokens":-1}`},
		{"/v1/embeddings", `{"input":[[1,2],[3]]}`},
		{"/v1/completions", `{"prompt":["a",[1]],"best_of":1e9}`},
		{"", `{"input":"\ud83d"}`},
	} {
		f.Add(s.path, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		c, ok := sluice.EstimateCost("POST", path, body)
		if c.InputTokens < 0 || c.OutputTokens < 0 || c.Requests != 0 {
			t.Fatalf("EstimateCost(%q, %q) = %+v", path, body, c)
		}
		if !ok && c != (sluice.Cost{}) {
			t.Fatalf("EstimateCost(%q, %q) = %+v but not ok", path, body, c)
		}
	})
}

// BenchmarkEstimateCost measures the estimate of a typical chat request
// with some history, the per-request price of a token limit.
func BenchmarkEstimateCost(b *testing.B) {
	body := []byte(`{"model":"claude-sonnet-4-5","max_tokens":1024,"system":"You are a helpful assistant that answers briefly.",` +
		`"messages":[{"role":"user","content":"What is the capital of France?"},{"role":"assistant","content":[{"type":"text","text":"Paris."}]},` +
		`{"role":"user","content":"And of Germany? Answer with one word and nothing else, please."}]}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		sluice.EstimateCost("POST", "/v1/messages", body)
	}
}

// OpenAI counts a request's max_tokens and prompt against its token limit
// whatever the answer used; Anthropic settles with what was used. Only a
// path tells them apart.
func TestEstimateNoRefund(t *testing.T) {
	for _, tt := range []struct {
		path, body string
		want       bool
	}{
		{"/v1/chat/completions", `{"messages":[],"max_tokens":10}`, true},
		{"/v1/completions", `{"prompt":"hi","max_tokens":10}`, true},
		{"/v1/responses", `{"input":"hi"}`, true},
		{"/v1/embeddings", `{"input":"hi"}`, true},
		{"/v1/messages", `{"messages":[],"max_tokens":10}`, false},
		{"/model/claude/invoke", `{"messages":[],"max_tokens":10}`, false},
	} {
		c, ok := sluice.EstimateCost("POST", tt.path, []byte(tt.body))
		if !ok || c.NoRefund != tt.want {
			t.Errorf("EstimateCost(POST %s).NoRefund = %v (ok %v); want %v", tt.path, c.NoRefund, ok, tt.want)
		}
	}
}
