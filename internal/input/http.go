package input

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// The http format: one JSON object a line,
//
//	{"id": "a7", "method": "POST", "url": "https://api.example.com/v1/x",
//	 "headers": {"X-Trace": "1", "Accept": ["a/b", "c/d"]}, "body": {"q": 1}}
//
// Only "url" is required. "id" is a string or a number; without it the id
// is the line number. "method" defaults to GET, or to POST when there is a
// body. "url" is absolute, or a path starting with "/" appended to the base
// URL. "headers" maps names to a string or an array of strings. "body" is
// any JSON value: a string is sent as its contents, unquoted, so that
// "body": "a=1&b=2" sends a=1&b=2 and a JSON document given as a string is
// sent as that document; any other value is sent as its compact JSON
// encoding. A member that is null counts as absent.

// FormatHTTP is JSON lines {"id","method","url","headers","body"}.
const FormatHTTP Format = "http"

var httpFormat = format{
	name: FormatHTTP,
	// Any JSON object the batch formats did not claim, and any other line
	// starting with "{": http reports it as it is.
	detect: func(l *firstLine) bool { return l.text[0] == '{' },
	parse:  (*Reader).parseHTTPLine,
	shape:  httpShape{},
}

// parseHTTPLine turns an http line, number n, into an item, or returns
// why it cannot be run.
func (r *Reader) parseHTTPLine(line []byte, n int) (Item, string) {
	m, reason := r.object(line, "id", "method", "url", "headers", "body", "metadata")
	if reason != "" {
		return Item{}, reason
	}
	var it Item

	switch raw := m.get("id"); {
	case !present(raw):
		it.ID, it.NumberID = strconv.Itoa(n), true
	case raw[0] == '"':
		it.ID, _ = jsonString(raw)
		if it.ID == "" {
			return Item{}, "empty id"
		}
	case raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9':
		it.ID, it.NumberID = jsonNumberID(raw), true
	default:
		return Item{}, "id must be a string or a number"
	}

	if raw := m.get("body"); present(raw) {
		if s, ok := jsonString(raw); ok {
			it.Body = []byte(s)
		} else {
			it.Body = jsonCompact(raw)
		}
	}

	it.Method = "GET"
	if it.Body != nil {
		it.Method = "POST"
	}
	method, given, reason := stringMember(m, "method")
	if reason != "" {
		return Item{}, reason
	}
	if given {
		if it.Method, reason = checkMethod(method); reason != "" {
			return Item{}, reason
		}
	}

	s, given, reason := stringMember(m, "url")
	switch {
	case reason != "":
		return Item{}, reason
	case !given:
		return Item{}, "missing url"
	case s == "":
		return Item{}, "empty url"
	}
	if it.URL, it.parsedURL, reason = resolveURL(s, r.base); reason != "" {
		return Item{}, reason
	}

	if it.Header, reason = parseHeaders(m.get("headers")); reason != "" {
		return Item{}, reason
	}
	if it.Metadata, reason = metadataMember(m); reason != "" {
		return Item{}, reason
	}
	return it, ""
}

// parseHeaders decodes the "headers" member of an http line: an object
// whose values are strings or arrays of strings. It returns nil for none.
func parseHeaders(raw json.RawMessage) (http.Header, string) {
	if !present(raw) {
		return nil, ""
	}
	const notStrings = "headers must be an object of strings"
	var m map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return nil, notStrings
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names) // the first bad header is the same on every run
	var h http.Header
	for _, name := range names {
		if !isToken(name) {
			return nil, fmt.Sprintf("bad header name %s", quoteInput(name))
		}
		var values []string
		v := m[name]
		switch v[0] {
		case '"':
			s, _ := jsonString(v)
			values = []string{s}
		case '[':
			var elems []json.RawMessage
			if json.Unmarshal(v, &elems) != nil {
				return nil, fmt.Sprintf("%s (header %s)", notStrings, quoteInput(name))
			}
			for _, e := range elems {
				s, ok := jsonString(e)
				if !ok {
					return nil, fmt.Sprintf("%s (header %s)", notStrings, quoteInput(name))
				}
				values = append(values, s)
			}
		default:
			return nil, fmt.Sprintf("%s (header %s)", notStrings, quoteInput(name))
		}
		for _, s := range values {
			if !ValidHeaderValue(s) {
				return nil, fmt.Sprintf("header %s has a control character or line break in its value", quoteInput(name))
			}
		}
		if len(values) == 0 {
			continue
		}
		if h == nil {
			h = make(http.Header, len(m))
		}
		key := http.CanonicalHeaderKey(name)
		h[key] = append(h[key], values...)
	}
	return h, ""
}

// httpShape is for urls, http and csv inputs.
type httpShape struct{}

// The line is built by appending: it is written for every item, and
// encoding/json's reflection cost more than the rest of the line's work.
func (httpShape) AppendResultLine(line []byte, it Item, r Response) []byte {
	var b json.RawMessage
	binary := isBinary(r)
	if !binary {
		b = textJSON(r.Body)
	}
	line = append(line, `{"id":`...)
	line = appendItemID(line, it)
	line = append(line, `,"status":`...)
	line = strconv.AppendInt(line, int64(r.Status), 10)
	if binary {
		// Encoded straight into the line: no copy of the body beside it.
		line = append(line, `,"`+base64Member+`":`...)
		line = appendBase64JSON(line, r)
	} else {
		line = append(line, `,"body":`...)
		line = append(line, b...)
	}
	line = append(line, `,"attempts":`...)
	line = strconv.AppendInt(line, int64(r.Attempts), 10)
	line = append(line, `,"elapsed_ms":`...)
	line = strconv.AppendInt(line, r.Elapsed.Milliseconds(), 10)
	if it.Metadata != nil {
		line = append(line, `,"metadata":`...)
		line = append(line, it.Metadata...)
	}
	line = appendSluice(line, r)
	return append(line, '}')
}

// ErrorLine is sluice's own errors line: id, line, class, status, message,
// attempts, then the API's answer as "body" (or "body_base64", body.go)
// when there was one, and the item's metadata.
func (httpShape) ErrorLine(it Item, f Failure) []byte {
	body, b64 := failureBody(f)
	return withMetadata(mustJSON(struct {
		ID   json.RawMessage `json:"id"`
		Line int             `json:"line"`
		Failure
		Body       json.RawMessage `json:"body,omitempty"`
		BodyBase64 json.RawMessage `json:"body_base64,omitempty"`
	}{appendItemID(nil, it), it.Line, f, body, b64}), it.Metadata)
}

// BadLineLine is an errors line of class bad_line, with the line's id
// when it could be read (null otherwise, and for a repeated id, which is
// "repeated_id").
func (httpShape) BadLineLine(b BadLine) []byte {
	return mustJSON(struct {
		ID   json.RawMessage `json:"id"`
		Line int             `json:"line"`
		Failure
		RepeatedID string `json:"repeated_id,omitempty"`
	}{badLineID(b), b.Line, Failure{Class: ClassBadLine, Message: b.Reason}, b.RepeatedID})
}

// badLineID is b's id as a JSON string, or null when it could not be read.
func badLineID(b BadLine) json.RawMessage {
	if b.ID == "" {
		return json.RawMessage("null")
	}
	return mustJSON(b.ID)
}
