package batch

import (
	"testing"

	"github.com/sluicehq/sluice/internal/input"
)

// A batch line's estimate knows whose API the line goes to, from its url:
// OpenAI keeps a request's estimate whole, so an OpenAI line's is never
// refunded (outside review: settled down to the usage, `--api openai`
// batches ran 3.5 times over --tokens and 42% drew 429s at a strict
// API), while Anthropic's is settled to the usage.
func TestBatchLineEstimateIsRefundedOnlyWhereTheAPIRefunds(t *testing.T) {
	const chat = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":200}`
	const messages = `{"model":"claude-sonnet-4-5","max_tokens":200,"messages":[{"role":"user","content":"hi"}]}`
	for _, tc := range []struct {
		url, raw     string
		wantNoRefund bool
	}{
		{"https://api.openai.com/v1/chat/completions", chat, true},
		{"http://127.0.0.1:9/v1/chat/completions", chat, true},
		{"https://api.anthropic.com/v1/messages", messages, false},
	} {
		c := itemCost(input.Item{Method: "POST", URL: tc.url, Body: []byte(tc.raw), Raw: []byte(tc.raw)})
		if c.OutputTokens != 200 {
			t.Errorf("%s: estimated %d output tokens, want max_tokens 200", tc.url, c.OutputTokens)
		}
		if c.NoRefund != tc.wantNoRefund {
			t.Errorf("%s: NoRefund = %v, want %v", tc.url, c.NoRefund, tc.wantNoRefund)
		}
	}
}
