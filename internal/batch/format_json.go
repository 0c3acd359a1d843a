package batch

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

// jsonObject decodes line as one JSON object and returns its members, or
// the reason it is not one: invalid JSON (the decoder's message and where
// it stopped: at the 1-based byte it refused, or after the last one), another JSON value, or a member name
// given twice (encoding/json would silently keep the last).
func jsonObject(line []byte) (map[string]json.RawMessage, string) {
	b := trimJSONSpace(line)
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return decodeJSONObject(line)
	}
	// A valid object: walk its members instead of decoding them, which
	// costs a second pass and a copy of every value. The values alias
	// line; callers copy what they keep. The walk is journal_lineid.go's,
	// which on valid JSON cannot fail.
	m := make(map[string]json.RawMessage, 8)
	i := skipJSONSpace(b, 1)
	if b[i] == '}' {
		return m, ""
	}
	for {
		end := skipJSONString(b, i)
		name := memberName(b[i:end])
		i = skipJSONSpace(b, skipJSONSpace(b, end)+1) // past the ':'
		vEnd := skipJSONValue(b, i)
		if _, repeated := m[name]; repeated {
			return nil, fmt.Sprintf("repeated field %s", quoteInput(name))
		}
		m[name] = b[i:vEnd:vEnd]
		i = skipJSONSpace(b, vEnd)
		if b[i] == '}' {
			return m, ""
		}
		i = skipJSONSpace(b, i+1) // past the ','
	}
}

// decodeJSONObject is jsonObject through encoding/json, for the lines that
// are not valid objects: its errors say where and why.
func decodeJSONObject(line []byte) (map[string]json.RawMessage, string) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			if syn.Error() == "unexpected end of JSON input" {
				return nil, fmt.Sprintf("invalid JSON: unexpected end of input (after byte %d)", syn.Offset)
			}
			return nil, fmt.Sprintf("invalid JSON: %s (at byte %d)", syn.Error(), syn.Offset)
		case errors.As(err, &typ):
			kind, _, _ := strings.Cut(typ.Value, " ")
			return nil, "not a JSON object but " + withArticle(kind)
		}
		return nil, "invalid JSON: " + err.Error()
	}
	if m == nil {
		return nil, "not a JSON object but null"
	}
	return m, ""
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

var knownMembers = [...]string{"id", "method", "url", "headers", "body", "custom_id", "params"}

// unknownMember returns why m has a member not in known, if it has one.
// Unknown members are refused rather than ignored: a misspelt "header"
// would otherwise send the request without its headers.
func unknownMember(m map[string]json.RawMessage, known ...string) string {
	var unknown []string
	for name := range m {
		if !slices.Contains(known, name) {
			unknown = append(unknown, name)
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

// jsonCompact returns raw, a valid JSON value, without insignificant
// space.
func jsonCompact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	b.Grow(len(raw))
	if json.Compact(&b, raw) != nil {
		return slices.Clone(raw) // cannot happen: raw was decoded
	}
	return b.Bytes()
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
