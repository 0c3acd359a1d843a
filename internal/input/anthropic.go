package input

import (
	"encoding/json"
)

// FormatAnthropic is Anthropic Message Batches request lines:
//
//	{"custom_id": "r1", "params": {"model": ..., "max_tokens": ..., "messages": [...]}}
//
// Both members are required; the request is a POST of params to the base
// URL followed by /v1/messages. Results are written as Message Batches
// result lines (see batchapi.go for what the two batch formats share).
const FormatAnthropic Format = "anthropic"

var anthropicFormat = format{
	name: FormatAnthropic,
	detect: func(l *firstLine) bool {
		m, ok := l.object()
		return ok && m.has("custom_id") && m.has("params")
	},
	parse:     (*Reader).parseAnthropicLine,
	needsBase: true,
	shape:     anthropicShape{},
}

// parseAnthropicLine turns an anthropic line into an item (without its
// line number), or returns why it cannot be run.
func (r *Reader) parseAnthropicLine(line []byte, _ int) (Item, string) {
	m, reason := r.object(line, "custom_id", "params")
	if reason != "" {
		return Item{}, reason
	}
	id, reason := customID(m)
	if reason != "" {
		return Item{}, reason
	}
	params, reason := objectMember(m, "params")
	if reason != "" {
		return Item{}, reason
	}
	compact := jsonCompact(params) // params aliases the line; Raw may not
	if r.messagesURL == nil {
		_, r.messagesURL, _ = resolveURL("/v1/messages", r.base) // the base was checked
	}
	return Item{ID: id, Method: "POST", URL: r.base + "/v1/messages", Body: compact, Raw: compact, parsedURL: r.messagesURL}, ""
}

// anthropicShape writes Message Batches result lines.
type anthropicShape struct{}

func (anthropicShape) ResultLine(it Item, r Response) []byte {
	return withSluice(anthropicResult(it, r), r)
}

func anthropicResult(it Item, r Response) []byte {
	type result struct {
		Type    string          `json:"type"`
		Message json.RawMessage `json:"message"`
	}
	return mustJSON(struct {
		CustomID string `json:"custom_id"`
		Result   result `json:"result"`
	}{it.ID, result{"succeeded", bodyJSON(r.Body)}})
}

func (anthropicShape) ErrorLine(it Item, f Failure) []byte { return customIDFailure(it, f) }
