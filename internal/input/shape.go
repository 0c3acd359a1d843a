package input

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// Shape writes the results and errors lines of an input format: each
// format answers in its own API's shape, so that a file made for a batch
// API gets back what that batch API would have written. Every line is one
// line of compact JSON without a '\n', and [LineID] reads back from it the
// item's ID. The formats' shapes hold no state and are safe for concurrent
// use.
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

// customIDFailure is the errors line of both batch APIs' formats, which
// name an item by its custom_id.
func customIDFailure(it Item, f Failure) []byte {
	return mustJSON(struct {
		CustomID string `json:"custom_id"`
		Line     int    `json:"line"`
		Failure
	}{it.ID, it.Line, f})
}
