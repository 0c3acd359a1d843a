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

// EstimateCost guesses what an LLM request will cost before it is sent,
// from its body alone: sluice.EstimateCost, going by the body's shape
// since a batch line's params say nothing of the path. Input tokens are
// its text over four, output tokens its max_tokens (or
// max_completion_tokens, max_output_tokens): the most it may use. A body
// of no known shape costs nothing.
func EstimateCost(params json.RawMessage) sluice.Cost {
	c, _ := sluice.EstimateCost("POST", "", params)
	return c
}
