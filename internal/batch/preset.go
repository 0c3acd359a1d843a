package batch

import (
	"encoding/json"

	"github.com/sluicehq/sluice"
)

// preset is what --api fills in for a known API.
type preset struct {
	name    string
	baseURL string
	keyEnv  string
	headers map[string]string // values may name ${ENV}
}

var presets = map[string]*preset{
	"anthropic": {
		name: "anthropic", baseURL: "https://api.anthropic.com", keyEnv: "ANTHROPIC_API_KEY",
		headers: map[string]string{"x-api-key": "${ANTHROPIC_API_KEY}", "anthropic-version": "2023-06-01"},
	},
	"openai": {
		name: "openai", baseURL: "https://api.openai.com", keyEnv: "OPENAI_API_KEY",
		headers: map[string]string{"Authorization": "Bearer ${OPENAI_API_KEY}"},
	},
}

// EstimateCost guesses what an LLM request will cost before it is sent:
// input tokens as the length of its text over four (a common rule of thumb
// for English; the settlement with the real usage corrects it), output
// tokens as its max_tokens (or max_completion_tokens, max_output_tokens):
// the most it may use, so an estimate never under-charges the budget.
func EstimateCost(params json.RawMessage) sluice.Cost {
	var v map[string]any
	if json.Unmarshal(params, &v) != nil {
		return sluice.Cost{}
	}
	chars := 0
	for k, x := range v {
		if k == "model" {
			continue
		}
		chars += textLength(x)
	}
	out := 0
	for _, k := range []string{"max_tokens", "max_completion_tokens", "max_output_tokens"} {
		if n, ok := v[k].(float64); ok && n > 0 {
			out = int(n)
			break
		}
	}
	return sluice.Cost{InputTokens: chars/4 + 1, OutputTokens: out}
}

// textLength adds up the lengths of the strings in a decoded JSON value.
func textLength(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case []any:
		n := 0
		for _, e := range x {
			n += textLength(e)
		}
		return n
	case map[string]any:
		n := 0
		for _, e := range x {
			n += textLength(e)
		}
		return n
	}
	return 0
}
