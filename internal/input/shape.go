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
	// AppendResultLine appends to b the results line of an item whose
	// call succeeded, so that the runner can build it in the journal's
	// queue rather than in a line of its own that is then copied there.
	AppendResultLine(b []byte, it Item, r Response) []byte
	// ErrorLine is the errors line of an item that failed.
	ErrorLine(it Item, f Failure) []byte
	// BadLineLine is the errors line of an input line that could not be
	// run: it has no item, so it names the line and the reason.
	BadLineLine(b BadLine) []byte
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
	// BodyBase64 says that Body is not the body but already the JSON
	// string of its base64, to be written as it is as the body's
	// "body_base64" member (body.go). The runner sets it for a stand-in
	// of a large body it writes into the line a piece at a time; a body
	// in memory needs no help: a shape writes one that is not valid
	// UTF-8 as base64 itself.
	BodyBase64 bool
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
	// Body is the body of the API's answer when it answered with an error
	// status; nil when no answer came (a network error, a timeout). It is
	// kept whole in the errors line, as JSON when it is JSON.
	Body []byte `json:"-"`
	// RequestID is the answer's X-Request-Id or Request-Id; "" for none.
	RequestID string `json:"-"`
	// BodyTruncated says that Body is only the start of a longer answer
	// (a runner keeps a bounded part of an error body, not all of it).
	BodyTruncated bool `json:"body_truncated,omitempty"`
}

// sluiceMember is the "sluice" member of the batch formats' errors lines:
// what sluice knows of a failure besides the API's own answer. Its name
// cannot collide with the batch APIs' members (id, custom_id, response,
// error, result).
type sluiceMember struct {
	Class    string `json:"class"`
	Status   int    `json:"status,omitempty"`
	Message  string `json:"message"`
	Attempts int    `json:"attempts"`
	Line     int    `json:"line"`
	// BodyTruncated says that the API's answer in the line is only the
	// start of its body (Failure.BodyTruncated).
	BodyTruncated bool `json:"body_truncated,omitempty"`
	// RepeatedID is a bad line's BadLine.RepeatedID.
	RepeatedID string `json:"repeated_id,omitempty"`
}

func sluiceOf(it Item, f Failure) sluiceMember {
	return sluiceMember{Class: f.Class, Status: f.Status, Message: f.Message, Attempts: f.Attempts, Line: it.Line, BodyTruncated: f.BodyTruncated}
}

// ClassBadLine is the class of an errors line written for an input line
// that could not be run.
const ClassBadLine = "bad_line"

// withMetadata appends `,"metadata":` and m to a JSON object's line,
// before its closing brace, when m is not nil.
func withMetadata(line []byte, m json.RawMessage) []byte {
	if m == nil {
		return line
	}
	line = line[:len(line)-1]
	line = append(line, `,"metadata":`...)
	line = append(line, m...)
	return append(line, '}')
}

// bodyJSON returns body as JSON: itself when it is JSON, else a string;
// valid UTF-8 either way, bytes that are not UTF-8 made U+FFFD. Only the
// anthropic errors line, which keeps an answer only when it is a JSON
// object, still uses it: the other lines carry such a body losslessly
// (lineBody).
func bodyJSON(body []byte) json.RawMessage {
	if !utf8.Valid(body) {
		// json.Valid takes any bytes inside a string, but a line with
		// them is JSON no strict reader takes: the bytes become U+FFFD,
		// and the JSON stays valid.
		body = bytes.ToValidUTF8(body, []byte("\uFFFD"))
	}
	return textJSON(body)
}

// textJSON returns body, valid UTF-8, as JSON: itself when it is JSON,
// else a string.
func textJSON(body []byte) json.RawMessage {
	if len(body) > 0 && json.Valid(body) {
		if t := trimJSONSpace(body); isCompact(t) {
			return t // most APIs' bodies: no second scan, no copy
		}
		return compact(body)
	}
	return appendJSONString(nil, string(body))
}

// appendJSONString appends s as a JSON string, without the HTML escaping
// that encoding/json adds by default: results keep "<" as it came, not
// "\u003c" (issue 10, item 10).
func appendJSONString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string cannot fail
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...)
}

// appendItemID appends it.ID as its results line writes it: a number
// only when the id stands for one (Item.NumberID) and is an integer in
// canonical form, else a string.
func appendItemID(b []byte, it Item) []byte {
	if it.NumberID {
		return appendIDJSON(b, it.ID)
	}
	return appendJSONString(b, it.ID)
}

func compact(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// appendIDJSON appends a numeric id (Item.NumberID) to b: a number stays a number. Only the
// canonical form of an integer is written bare; "007" or "+5" stay
// strings, and both forms read back (LineID) as the same text.
func appendIDJSON(b []byte, id string) []byte {
	var digits [20]byte
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && string(strconv.AppendInt(digits[:0], n, 10)) == id {
		return append(b, id...)
	}
	return appendJSONString(b, id)
}

// mustJSON encodes v as one line of compact JSON, without HTML escaping
// (encoding/json would turn "<" in a response body into "\u003c", in a
// json.RawMessage too).
func mustJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only our own types are marshalled
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}
