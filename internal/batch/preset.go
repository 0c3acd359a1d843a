package batch

import (
	"encoding/json"
	"net/url"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/input"
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

// EstimateCost guesses what an LLM request to path will cost before it is
// sent: sluice.EstimateCost, going by the body's shape. Input tokens are
// its text over four, output tokens its max_tokens (or
// max_completion_tokens, max_output_tokens): the most it may use. A body
// of no known shape costs nothing. The path says whose API it is, and so
// whether the estimate is refunded when the answer used less: OpenAI
// keeps it whole (sluice.Cost.NoRefund); settled down to the usage, a
// batch of OpenAI lines ran 3.5 times over --tokens (outside review).
func EstimateCost(path string, params json.RawMessage) sluice.Cost {
	c, _ := sluice.EstimateCost("POST", path, params)
	return c
}

// itemCost is EstimateCost of a batch line's params, at the path the line
// goes to.
func itemCost(it input.Item) sluice.Cost {
	u := it.ParsedURL()
	if u == nil {
		u, _ = url.Parse(it.URL)
	}
	path := ""
	if u != nil {
		path = u.Path
	}
	return EstimateCost(path, it.Raw)
}
