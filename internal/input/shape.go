package input

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// Shape writes the results and errors lines of an input format: each
// format answers in its own API's shape, so that a file made for a batch
// API gets back what that batch API would have written. Every line is one
// line of compact JSON without a '\n', and [LineID] reads back from it the
// item's ID. A Shape holds no state: it is safe for concurrent use and its
// zero value is ready to use.
type Shape interface {
	// ResultLine is the results line of an item whose call succeeded.
	ResultLine(it Item, r Response) []byte
	// ErrorLine is the errors line of an item that failed.
	ErrorLine(it Item, f Failure) []byte
}

// Response is what an item's call came back with, for its results line.
type Response struct {
	Status    int
	RequestID string // the response's X-Request-Id or Request-Id; "" when it had none
	Body      []byte // the response body as received
	Attempts  int
	Elapsed   time.Duration
}

// Failure is what the errors file says of a failed item.
type Failure struct {
	Class    string `json:"class"`
	Status   int    `json:"status,omitempty"`
	Message  string `json:"message"`
	Attempts int    `json:"attempts"`
}

// ShapeOf returns the shape of f's results and errors lines.
func ShapeOf(f Format) Shape {
	switch f {
	case FormatOpenAI:
		return openAIShape{}
	case FormatAnthropic:
		return anthropicShape{}
	}
	return httpShape{}
}

// bodyJSON returns body as JSON: itself when it is JSON, else a string.
func bodyJSON(body []byte) json.RawMessage {
	if len(body) > 0 && json.Valid(body) {
		if t := trimJSONSpace(body); isCompact(t) {
			return t // most APIs' bodies: no second scan, no copy
		}
		return compact(body)
	}
	if !utf8.Valid(body) {
		body = bytes.ToValidUTF8(body, []byte("\uFFFD"))
	}
	b, _ := json.Marshal(string(body))
	return b
}

func compact(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// idJSON writes an id as it appeared: a number stays a number. Only the
// canonical form of an integer is written bare; "007" or "+5" stay
// strings, and both forms read back (LineID) as the same text.
func idJSON(id string) json.RawMessage {
	return appendIDJSON(nil, id)
}

// appendIDJSON appends idJSON(id) to b.
func appendIDJSON(b []byte, id string) []byte {
	var digits [20]byte
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && string(strconv.AppendInt(digits[:0], n, 10)) == id {
		return append(b, id...)
	}
	q, _ := json.Marshal(id)
	return append(b, q...)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own types are marshalled
	}
	return b
}

// httpShape is for urls, http and csv inputs.
type httpShape struct{}

// success builds the line by appending: it is written for every item, and
// encoding/json's reflection cost more than the rest of the line's work.
func (httpShape) ResultLine(it Item, r Response) []byte {
	b := bodyJSON(r.Body)
	line := make([]byte, 0, len(b)+len(it.ID)+80)
	line = append(line, `{"id":`...)
	line = appendIDJSON(line, it.ID)
	line = append(line, `,"status":`...)
	line = strconv.AppendInt(line, int64(r.Status), 10)
	line = append(line, `,"body":`...)
	line = append(line, b...)
	line = append(line, `,"attempts":`...)
	line = strconv.AppendInt(line, int64(r.Attempts), 10)
	line = append(line, `,"elapsed_ms":`...)
	line = strconv.AppendInt(line, r.Elapsed.Milliseconds(), 10)
	return append(line, '}')
}

func (httpShape) ErrorLine(it Item, f Failure) []byte {
	return mustJSON(struct {
		ID   json.RawMessage `json:"id"`
		Line int             `json:"line"`
		Failure
	}{idJSON(it.ID), it.Line, f})
}

// openAIShape writes OpenAI Batch API output lines.
type openAIShape struct{}

func (openAIShape) ResultLine(it Item, r Response) []byte {
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

// anthropicShape writes Message Batches result lines.
type anthropicShape struct{}

func (anthropicShape) ResultLine(it Item, r Response) []byte {
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

// customIDFailure is the errors line of both batch APIs' formats, which
// name an item by its custom_id.
func customIDFailure(it Item, f Failure) []byte {
	return mustJSON(struct {
		CustomID string `json:"custom_id"`
		Line     int    `json:"line"`
		Failure
	}{it.ID, it.Line, f})
}
