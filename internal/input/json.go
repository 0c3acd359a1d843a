package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// What the JSON line formats (http, openai, anthropic) share: a line is one
// JSON object whose members are all known and each given once.

// jsonMembers are the members of one JSON object, in the order given. A
// handful of members is faster to search than to put in a map.
type jsonMembers []jsonMember

type jsonMember struct {
	name string
	raw  json.RawMessage
}

// get returns the member called name, or nil.
func (m jsonMembers) get(name string) json.RawMessage {
	for _, x := range m {
		if x.name == name {
			return x.raw
		}
	}
	return nil
}

// has reports whether m has a member called name.
func (m jsonMembers) has(name string) bool { return m.get(name) != nil }

// jsonObject reads line as one JSON object and appends its members to
// scratch, or returns the reason it is not one: invalid JSON (the
// decoder's message and where it stopped: at the 1-based byte it refused,
// or after the last one), another JSON value, or a member name given twice
// (encoding/json would silently keep the last). The values alias line;
// callers copy what they keep.
func jsonObject(line []byte, scratch jsonMembers) (jsonMembers, string) {
	b := trimJSONSpace(line)
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return nil, notAnObject(line)
	}
	// A valid object: walk its members (with lineid.go's walk,
	// which cannot fail on valid JSON) instead of decoding them, which
	// would cost a second pass and a copy of every value.
	m := scratch[:0]
	i := skipJSONSpace(b, 1)
	if b[i] == '}' {
		return m, ""
	}
	for {
		end := skipJSONString(b, i)
		name := memberName(b[i:end])
		i = skipJSONSpace(b, skipJSONSpace(b, end)+1) // past the ':'
		vEnd := skipJSONValue(b, i)
		if m.has(name) {
			return nil, fmt.Sprintf("repeated field %s", quoteInput(name))
		}
		m = append(m, jsonMember{name, b[i:vEnd:vEnd]})
		i = skipJSONSpace(b, vEnd)
		if b[i] == '}' {
			return m, ""
		}
		i = skipJSONSpace(b, i+1) // past the ','
	}
}

// notAnObject says why line, which is not a valid JSON object, is not
// one, in encoding/json's words.
func notAnObject(line []byte) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			if syn.Error() == "unexpected end of JSON input" {
				return fmt.Sprintf("invalid JSON: unexpected end of input (after byte %d)", syn.Offset)
			}
			return fmt.Sprintf("invalid JSON: %s (at byte %d)", syn.Error(), syn.Offset)
		case errors.As(err, &typ):
			kind, _, _ := strings.Cut(typ.Value, " ")
			return "not a JSON object but " + withArticle(kind)
		}
		return "invalid JSON: " + err.Error()
	}
	if m == nil {
		return "not a JSON object but null"
	}
	return "invalid JSON"
}

func withArticle(kind string) string {
	switch kind {
	case "array":
		return "an array"
	case "":
		return "another value"
	}
	return "a " + kind
}

func trimJSONSpace(b []byte) []byte {
	i, j := skipJSONSpace(b, 0), len(b)
	for j > i && strings.IndexByte(" \t\n\r", b[j-1]) >= 0 {
		j--
	}
	return b[i:j]
}

// memberName returns the name a quoted member name in valid JSON stands
// for; the names the formats know cost no allocation.
func memberName(quoted []byte) string {
	inner := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		var s string
		json.Unmarshal(quoted, &s) // valid: cannot fail
		return s
	}
	for _, known := range knownMembers {
		if string(inner) == known {
			return known
		}
	}
	return string(inner)
}

var knownMembers = [...]string{"id", "method", "url", "headers", "body", "custom_id", "params", "metadata"}

// object reads line as a JSON object whose members are all in known, in
// the reader's scratch slice, or returns why it is not one.
func (r *Reader) object(line []byte, known ...string) (jsonMembers, string) {
	m, reason := jsonObject(line, r.members)
	if reason != "" {
		return nil, reason
	}
	r.members = m
	if reason := unknownMember(m, known...); reason != "" {
		return nil, reason
	}
	return m, ""
}

// stringMember returns the member name of m, which must be a string;
// given is false when it is absent or null.
func stringMember(m jsonMembers, name string) (s string, given bool, reason string) {
	raw := m.get(name)
	if !present(raw) {
		return "", false, ""
	}
	s, ok := jsonString(raw)
	if !ok {
		return "", true, name + " must be a string"
	}
	return s, true, ""
}

// unknownMember returns why m has a member not in known, if it has one.
// Unknown members are refused rather than ignored: a misspelt "header"
// would otherwise send the request without its headers.
func unknownMember(m jsonMembers, known ...string) string {
	var unknown []string
	for _, x := range m {
		if !slices.Contains(known, x.name) {
			unknown = append(unknown, x.name)
		}
	}
	if len(unknown) == 0 {
		return ""
	}
	slices.Sort(unknown)
	return fmt.Sprintf("unknown field %s (want %s)", quoteInput(unknown[0]), strings.Join(known, ", "))
}

// present reports whether a member was given and is not null; null counts
// as absent.
func present(raw json.RawMessage) bool {
	return raw != nil && string(raw) != "null"
}

// jsonString returns the string a raw JSON value holds, ok false when it
// holds another kind of value.
func jsonString(raw json.RawMessage) (s string, ok bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 {
		// raw was decoded, so it is valid: without escapes a string is
		// the bytes between its quotes (and the line was valid UTF-8).
		return string(inner), true
	}
	return s, json.Unmarshal(raw, &s) == nil
}

// jsonCompact returns a copy of raw, a valid JSON value, without
// insignificant space.
func jsonCompact(raw json.RawMessage) []byte {
	if isCompact(raw) {
		return slices.Clone(raw) // most lines: a copy costs less than Compact's scan
	}
	var b bytes.Buffer
	b.Grow(len(raw))
	if json.Compact(&b, raw) != nil {
		return slices.Clone(raw) // cannot happen: raw is valid
	}
	return b.Bytes()
}

// isCompact reports whether the valid JSON value raw has no white space
// outside its strings.
func isCompact(raw []byte) bool {
	for i := 0; i < len(raw); {
		switch raw[i] {
		case '"':
			i = skipJSONString(raw, i)
			if i < 0 {
				return false
			}
			continue
		case ' ', '\t', '\n', '\r':
			return false
		}
		i++
	}
	return true
}

// jsonNumberID formats a JSON number as an id the way [LineID] reads it
// back from a results line, so that a resumed run recognises the item: an
// integer as written, any other number as the shortest decimal without
// exponent that float64 round-trips (1e3 is "1000", 2.50 is "2.5"), and a
// number beyond float64's range as written.
func jsonNumberID(raw json.RawMessage) string {
	s := string(raw)
	if isDecimalInteger(s) {
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func isDecimalInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
