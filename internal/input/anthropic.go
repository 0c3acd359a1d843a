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
	m, reason := r.object(line, "custom_id", "params", "metadata")
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
	if reason := streamRefused(params); reason != "" {
		return Item{}, "params: " + reason
	}
	meta, reason := metadataMember(m)
	if reason != "" {
		return Item{}, reason
	}
	compact := jsonCompact(params) // params aliases the line; Raw may not
	if r.messagesURL == nil {
		_, r.messagesURL, _ = resolveURL("/v1/messages", r.base) // the base was checked
	}
	return Item{ID: id, Method: "POST", URL: joinBase(r.base, "/v1/messages"), Body: compact, Raw: compact, parsedURL: r.messagesURL, Metadata: meta}, ""
}

// anthropicShape writes Message Batches result lines.
type anthropicShape struct{}

func (anthropicShape) AppendResultLine(b []byte, it Item, r Response) []byte {
	return append(b, withSluice(anthropicResult(it, r), r)...)
}

func anthropicResult(it Item, r Response) []byte {
	// A body that is not UTF-8 is no message: "body_base64" carries it
	// in the message's place (body.go). Message is never empty otherwise.
	type result struct {
		Type       string          `json:"type"`
		Message    json.RawMessage `json:"message,omitempty"`
		BodyBase64 json.RawMessage `json:"body_base64,omitempty"`
	}
	message, b64 := lineBody(r)
	return withMetadata(mustJSON(struct {
		CustomID string `json:"custom_id"`
		Result   result `json:"result"`
	}{it.ID, result{"succeeded", message, b64}}), it.Metadata)
}

// anthropicErrored is the "result" of an errored line.
type anthropicErrored struct {
	Type  string          `json:"type"` // "errored"
	Error json.RawMessage `json:"error"`
}

// anthropicError builds an error response in the API's shape,
// {"type":"error","error":{"type":..., "message":...}}, for when the API
// gave none of its own.
func anthropicError(typ, message string) json.RawMessage {
	type inner struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	return mustJSON(struct {
		Type  string `json:"type"`
		Error inner  `json:"error"`
	}{"error", inner{typ, message}})
}

// ErrorLine writes a Message Batches "errored" result. Its error is the
// API's error response whole, as the API returned it (type, error.type,
// error.message, request_id, whatever else it holds); when the API gave
// no JSON object (no answer, or a proxy's HTML page) it is one in the
// API's shape whose error.type is "api_error" for an answer and sluice's
// class otherwise. sluice's own account is the extra "sluice" member.
func (anthropicShape) ErrorLine(it Item, f Failure) []byte {
	var e json.RawMessage
	if b := bodyJSON(f.Body); f.Body != nil && len(b) > 0 && b[0] == '{' {
		e = b
	} else if f.Status > 0 {
		e = anthropicError("api_error", f.Message)
	} else {
		e = anthropicError(f.Class, f.Message)
	}
	return withMetadata(mustJSON(struct {
		CustomID string           `json:"custom_id"`
		Result   anthropicErrored `json:"result"`
		Sluice   sluiceMember     `json:"sluice"`
	}{it.ID, anthropicErrored{"errored", e}, sluiceOf(it, f)}), it.Metadata)
}

// BadLineLine is an errored result with no custom_id (the line could not
// be read for one) whose error is an invalid_request_error saying why.
func (anthropicShape) BadLineLine(b BadLine) []byte {
	return mustJSON(struct {
		CustomID *string          `json:"custom_id"`
		Result   anthropicErrored `json:"result"`
		Sluice   sluiceMember     `json:"sluice"`
	}{optID(b.ID), anthropicErrored{"errored", anthropicError("invalid_request_error", b.Error())}, sluiceMember{Class: ClassBadLine, Message: b.Reason, Line: b.Line, RepeatedID: b.RepeatedID}})
}

// optID is id, or nil (null) when it is "".
func optID(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}
