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
	if countMembers(line) != len(m) {
		return nil, fmt.Sprintf("repeated field %s", quoteInput(repeatedMember(line)))
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

// countMembers returns the number of members of the valid JSON object b,
// counting each name as often as it appears: one ':' at depth 1 apiece.
func countMembers(b []byte) int {
	n, depth, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ':':
			if depth == 1 {
				n++
			}
		}
	}
	return n
}

// repeatedMember returns the first member name that the valid JSON object
// b gives twice. It walks b again, so it runs only for lines known to
// repeat one.
func repeatedMember(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // '{'
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		name, _ := tok.(string)
		if seen[name] {
			return name
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}

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
