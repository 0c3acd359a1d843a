package input

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The two batch API formats, read so that a file made for a provider's
// batch API runs unchanged against its ordinary endpoints.
//
// openai, an OpenAI Batch API input line:
//
//	{"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {...}}
//
// custom_id, url and body are required; method, when given, must be POST.
// The request goes to the base URL followed by url.
//
// anthropic, a Message Batches request:
//
//	{"custom_id": "r1", "params": {"model": ..., "max_tokens": ..., "messages": [...]}}
//
// Both members are required; the request is a POST of params to the base
// URL followed by /v1/messages.
//
// custom_id may be any non-empty string: it names the result and is not
// sent, so the providers' own limits on it do not apply. The body and
// params objects are passed on as they are, and the API judges them.

// parseOpenAILine turns an openai line into an item (without its line
// number), or returns why it cannot be run.
func (r *Reader) parseOpenAILine(line []byte) (Item, string) {
	m, reason := r.object(line, "custom_id", "method", "url", "body")
	if reason != "" {
		return Item{}, reason
	}
	id, reason := customID(m)
	if reason != "" {
		return Item{}, reason
	}
	method, given, reason := stringMember(m, "method")
	switch {
	case reason != "":
		return Item{}, reason
	case given && !strings.EqualFold(method, "POST"):
		return Item{}, fmt.Sprintf("method %s: OpenAI batch requests must be POST", quoteInput(method))
	}
	path, given, reason := stringMember(m, "url")
	switch {
	case reason != "":
		return Item{}, reason
	case !given:
		return Item{}, "missing url"
	case !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//"):
		return Item{}, fmt.Sprintf(`url %s must be a path starting with "/", such as "/v1/chat/completions"`, quoteInput(path))
	}
	u, parsed, reason := resolveURL(path, r.base)
	if reason != "" {
		return Item{}, reason
	}
	body, reason := objectMember(m, "body")
	if reason != "" {
		return Item{}, reason
	}
	compact := jsonCompact(body) // body aliases the line; Raw may not
	return Item{ID: id, Method: "POST", URL: u, Body: compact, Raw: compact, parsedURL: parsed}, ""
}

// parseAnthropicLine turns an anthropic line into an item (without its
// line number), or returns why it cannot be run.
func (r *Reader) parseAnthropicLine(line []byte) (Item, string) {
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

// customID returns the custom_id of a batch API line.
func customID(m jsonMembers) (string, string) {
	id, given, reason := stringMember(m, "custom_id")
	switch {
	case reason != "":
		return "", reason
	case !given:
		return "", "missing custom_id"
	case id == "":
		return "", "empty custom_id"
	}
	return id, ""
}

// objectMember returns the member name of m, which must be a JSON object.
func objectMember(m jsonMembers, name string) (json.RawMessage, string) {
	raw := m.get(name)
	switch {
	case !present(raw):
		return nil, "missing " + name
	case raw[0] != '{':
		return nil, name + " must be a JSON object"
	}
	return raw, ""
}
