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
	// Fingerprint identifies the request that was made (the runner's
	// hash of its method, URL, body and headers), so that a later run can
	// tell whether the input still asks for the same. Every shape writes
	// it, when not 0, as the member "sluice": {"fp": "<16 hex digits>"},
	// the last member of the line; [LineFingerprint] reads it back. The
	// batch APIs' shapes have no such member, and readers of their files
	// ignore members they do not know.
	Fingerprint uint64
}

// appendSluice appends the "sluice" member of r, with its leading comma,
// when r has a fingerprint.
func appendSluice(b []byte, r Response) []byte {
	if r.Fingerprint == 0 {
		return b
	}
	b = append(b, `,"sluice":{"fp":"`...)
	b = appendHex16(b, r.Fingerprint)
	return append(b, `"}`...)
}

// withSluice is line, a JSON object, with r's "sluice" member added last.
func withSluice(line []byte, r Response) []byte {
	if r.Fingerprint == 0 || len(line) == 0 || line[len(line)-1] != '}' {
		return line
	}
	return append(appendSluice(line[:len(line)-1], r), '}')
}

func appendHex16(b []byte, v uint64) []byte {
	const hexDigits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[v>>uint(shift)&15])
	}
	return b
}

// LineFingerprint returns the request fingerprint of a results line (see
// [Response].Fingerprint), 0 when it has none, as in lines written before
// sluice recorded them. Like [ValidLineID] it expects valid JSON and walks
// only the top level.
func LineFingerprint(line []byte) uint64 {
	raw := topLevelMember(line, "sluice")
	if raw == nil || raw[0] != '{' {
		return 0
	}
	fp := topLevelMember(raw, "fp")
	if len(fp) != 18 || fp[0] != '"' {
		return 0
	}
	v, err := strconv.ParseUint(string(fp[1:17]), 16, 64)
	if err != nil {
		return 0
	}
	return v
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
