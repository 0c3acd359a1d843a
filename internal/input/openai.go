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
	m, reason := r.object(line, "custom_id", "method", "url", "body", "metadata")
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
	if reason := streamRefused(body); reason != "" {
		return Item{}, "body: " + reason
	}
	meta, reason := metadataMember(m)
	if reason != "" {
		return Item{}, reason
	}
	compact := jsonCompact(body) // body aliases the line; Raw may not
	return Item{ID: id, Method: "POST", URL: u, Body: compact, Raw: compact, parsedURL: parsed, Metadata: meta}, ""
}

// openAIShape writes OpenAI Batch API output lines.
type openAIShape struct{}

// openAIResponse is the "response" member of an output line. Body is
// never empty (bodyJSON of no bytes is ""), unless BodyBase64 carries a
// body that is not UTF-8 in its place (body.go).
type openAIResponse struct {
	StatusCode int             `json:"status_code"`
	RequestID  string          `json:"request_id"`
	Body       json.RawMessage `json:"body,omitempty"`
	BodyBase64 json.RawMessage `json:"body_base64,omitempty"`
}

// openAIResponseOf is the "response" member of an answer whose body r
// holds.
func openAIResponseOf(status int, requestID string, r Response) openAIResponse {
	body, b64 := lineBody(r)
	return openAIResponse{status, requestID, body, b64}
}

func ptr[T any](v T) *T { return &v }

// openAIError is the "error" member of an output line for a request that
// got no response, as the Batch API writes one for an expired request.
type openAIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Line is set for a bad input line, as the Batch API's validation
	// errors (batch.errors.data) name the line.
	Line int `json:"line,omitempty"`
}

// batchRequestID is the "id" of an item's output lines: stable, so that
// the same item gets the same id run after run.
func batchRequestID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "batch_req_" + hex.EncodeToString(sum[:12])
}

func (openAIShape) AppendResultLine(b []byte, it Item, r Response) []byte {
	return append(b, withSluice(withMetadata(mustJSON(struct {
		ID       string          `json:"id"`
		CustomID string          `json:"custom_id"`
		Response openAIResponse  `json:"response"`
		Error    json.RawMessage `json:"error"`
	}{batchRequestID(it.ID), it.ID, openAIResponseOf(r.Status, r.RequestID, r), json.RawMessage("null")}), it.Metadata), r)...)
}

// ErrorLine writes the Batch API's error-file line: when the API answered
// with an error status (f.Body not nil), its answer whole in "response" (status_code,
// request_id, body) and "error" null; when no answer came, "response" null
// and "error" {code, message}, the code being sluice's class. sluice's own
// account is the extra "sluice" member.
func (openAIShape) ErrorLine(it Item, f Failure) []byte {
	var resp *openAIResponse
	var oerr *openAIError
	if f.Body != nil {
		resp = ptr(openAIResponseOf(f.Status, f.RequestID, Response{Body: f.Body}))
	} else {
		oerr = &openAIError{Code: f.Class, Message: f.Message}
	}
	return withMetadata(mustJSON(struct {
		ID       string          `json:"id"`
		CustomID string          `json:"custom_id"`
		Response *openAIResponse `json:"response"`
		Error    *openAIError    `json:"error"`
		Sluice   sluiceMember    `json:"sluice"`
	}{batchRequestID(it.ID), it.ID, resp, oerr, sluiceOf(it, f)}), it.Metadata)
}

// BadLineLine has no custom_id (the line could not be read for one) and no
// response: "error" says why the line was refused.
func (openAIShape) BadLineLine(b BadLine) []byte {
	return mustJSON(struct {
		ID       *string         `json:"id"`
		CustomID *string         `json:"custom_id"`
		Response *openAIResponse `json:"response"`
		Error    openAIError     `json:"error"`
		Sluice   sluiceMember    `json:"sluice"`
	}{nil, optID(b.ID), nil, openAIError{Code: "invalid_request", Message: b.Error(), Line: b.Line}, sluiceMember{Class: ClassBadLine, Message: b.Reason, Line: b.Line, RepeatedID: b.RepeatedID}})
}
