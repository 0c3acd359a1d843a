package input

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// LineID returns the item id of a results line: the value of the top-level
// "custom_id" when the line has that key (OpenAI and Anthropic batch
// results, where "id" is the API's own request id), else of the top-level
// "id" (http and urls results). A string id is returned unquoted; a number
// is returned in decimal (7 as "7", 1e3 as "1000", 2.5 as "2.5"). ok is false
// when the line is not a valid JSON object, has neither key, or the value is
// not a non-empty string or a number. When a key appears twice the last one
// counts, as with encoding/json.
//
// LineID validates the line, then walks its top level without decoding the
// values it skips, so it costs about two scans of the line and allocates
// only the returned string. For a line already validated, use
// [ValidLineID].
func LineID(line []byte) (id string, ok bool) {
	if !json.Valid(line) {
		return "", false
	}
	return ValidLineID(line)
}

// ValidLineID is LineID for a line already known to be valid JSON, such as
// the journal's id function (the journal validates every line it reads
// back): it skips LineID's validation, about half its cost. On other input
// its answer means nothing, but it never panics.
func ValidLineID(b []byte) (string, bool) {
	var id, customID []byte
	i := skipJSONSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return "", false
	}
	i = skipJSONSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return "", false
	}
	for i < len(b) {
		keyEnd := skipJSONString(b, i)
		if keyEnd < 0 {
			return "", false
		}
		key := b[i:keyEnd]
		i = skipJSONSpace(b, keyEnd)
		if i >= len(b) || b[i] != ':' {
			return "", false
		}
		i = skipJSONSpace(b, i+1)
		valueEnd := skipJSONValue(b, i)
		if valueEnd < 0 {
			return "", false
		}
		switch {
		case jsonKeyIs(key, "id"):
			id = b[i:valueEnd]
		case jsonKeyIs(key, "custom_id"):
			customID = b[i:valueEnd]
		}
		i = skipJSONSpace(b, valueEnd)
		if i >= len(b) {
			return "", false
		}
		if b[i] == '}' {
			break
		}
		if b[i] != ',' {
			return "", false
		}
		i = skipJSONSpace(b, i+1)
	}
	if customID != nil {
		return jsonIDValue(customID)
	}
	if id != nil {
		return jsonIDValue(id)
	}
	return "", false
}

// topLevelMember returns the raw value of the last top-level member of the
// JSON object b named key, or nil. b should be valid JSON; on other input
// the answer means nothing, but it never panics.
func topLevelMember(b []byte, key string) []byte {
	var found []byte
	i := skipJSONSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil
	}
	i = skipJSONSpace(b, i+1)
	for i < len(b) && b[i] != '}' {
		keyEnd := skipJSONString(b, i)
		if keyEnd < 0 {
			return nil
		}
		k := b[i:keyEnd]
		i = skipJSONSpace(b, keyEnd)
		if i >= len(b) || b[i] != ':' {
			return nil
		}
		i = skipJSONSpace(b, i+1)
		valueEnd := skipJSONValue(b, i)
		if valueEnd < 0 {
			return nil
		}
		if jsonKeyIs(k, key) {
			found = b[i:valueEnd]
		}
		i = skipJSONSpace(b, valueEnd)
		if i < len(b) && b[i] == ',' {
			i = skipJSONSpace(b, i+1)
		} else if i >= len(b) || b[i] != '}' {
			return nil
		}
	}
	return found
}

// jsonIDValue turns a raw JSON value into an id.
func jsonIDValue(raw []byte) (string, bool) {
	switch c := raw[0]; {
	case c == '"':
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			return string(inner), len(inner) > 0
		}
		// Escapes, or invalid UTF-8 that encoding/json would replace with
		// U+FFFD: decode exactly as the input side does.
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, s != ""
	case c == '-' || '0' <= c && c <= '9':
		if isJSONInteger(raw) {
			return string(raw), true
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return string(raw), true // out of float64's range: keep the literal
		}
		return strconv.FormatFloat(f, 'f', -1, 64), true
	}
	return "", false
}

func isJSONInteger(raw []byte) bool {
	if raw[0] == '-' {
		raw = raw[1:]
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(raw) > 0
}

// jsonKeyIs reports whether the raw quoted key names want.
func jsonKeyIs(raw []byte, want string) bool {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == want
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && s == want
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipJSONString returns the index just past the string starting at b[i],
// or -1.
func skipJSONString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipJSONValue returns the index just past the value starting at b[i], or
// -1. Objects and arrays are skipped by counting brackets outside strings.
func skipJSONValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipJSONString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipJSONString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	start := i
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if i == start {
				return -1
			}
			return i
		}
		i++
	}
	if i == start {
		return -1
	}
	return i
}
