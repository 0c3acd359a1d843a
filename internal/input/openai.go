package input

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// FormatOpenAI is OpenAI Batch API input lines:
//
//	{"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {...}}
//
// custom_id, url and body are required; method, when given, must be POST.
// The request goes to the base URL followed by url. Results are written as
// the Batch API's output lines (see batchapi.go for what the two batch
// formats share).
const FormatOpenAI Format = "openai"

var openAIFormat = format{
	name: FormatOpenAI,
	detect: func(l *firstLine) bool {
		m, ok := l.object()
		return ok && m.has("custom_id") && (m.has("body") || m.has("url"))
	},
	parse:     (*Reader).parseOpenAILine,
	needsBase: true,
	shape:     openAIShape{},
}

// parseOpenAILine turns an openai line into an item (without its line
// number), or returns why it cannot be run.
func (r *Reader) parseOpenAILine(line []byte, _ int) (Item, string) {
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

// openAIShape writes OpenAI Batch API output lines.
type openAIShape struct{}

func (openAIShape) ResultLine(it Item, r Response) []byte {
	return withSluice(openAIResult(it, r), r)
}

func openAIResult(it Item, r Response) []byte {
	sum := sha256.Sum256([]byte(it.ID))
	type resp struct {
		StatusCode int             `json:"status_code"`
		RequestID  string          `json:"request_id"`
		Body       json.RawMessage `json:"body"`
	}
	return mustJSON(struct {
		ID       string          `json:"id"`
		CustomID string          `json:"custom_id"`
		Response resp            `json:"response"`
		Error    json.RawMessage `json:"error"`
	}{"batch_req_" + hex.EncodeToString(sum[:12]), it.ID, resp{r.Status, r.RequestID, bodyJSON(r.Body)}, json.RawMessage("null")})
}

func (openAIShape) ErrorLine(it Item, f Failure) []byte { return customIDFailure(it, f) }
