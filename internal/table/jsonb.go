package table

import (
	"bytes"
	"encoding/json"
	"strings"
)

// jsonbSafe reports whether PostgreSQL's jsonb takes valid JSON b as it
// is. jsonb stores strings as text and numbers as numeric, so it refuses
// some JSON that is valid: the escape \u0000 (text holds no NUL), a lone
// UTF-16 surrogate escape (\ud800 without its pair), and numbers beyond
// numeric's range. It answers conservatively for numbers (an exponent
// beyond ±1000, or over 1000 digits, counts as refused), exactly for
// escapes. b must be valid JSON (json.Valid); one pass, no allocation.
func jsonbSafe(b []byte) bool {
	const maxDigits = 1000
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			end, ok := stringSafe(b, i+1)
			if !ok {
				return false
			}
			i = end
		case c == '-' || (c >= '0' && c <= '9'):
			digits, exp, expDigits, inExp := 0, 0, 0, false
			j := i
			for ; j < len(b); j++ {
				d := b[j]
				switch {
				case d >= '0' && d <= '9':
					if inExp {
						expDigits++
						if exp < 1<<20 {
							exp = exp*10 + int(d-'0')
						}
					} else {
						digits++
					}
				case d == 'e' || d == 'E':
					inExp = true
				case d == '-' || d == '+' || d == '.':
				default:
					goto done
				}
			}
		done:
			if digits > maxDigits || exp > maxDigits || expDigits > 7 {
				return false
			}
			i = j - 1
		}
	}
	return true
}

// stringSafe scans a JSON string from after its opening quote to its
// closing one, returning where that is and whether every \u escape is one
// jsonb takes.
func stringSafe(b []byte, i int) (end int, ok bool) {
	pendingHigh := false // the last escape was a high surrogate
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i, !pendingHigh
		case '\\':
			if i+1 >= len(b) {
				return i, false
			}
			if b[i+1] != 'u' {
				if pendingHigh {
					return i, false
				}
				i++
				continue
			}
			if i+5 >= len(b) {
				return i, false
			}
			v, good := hex4(b[i+2 : i+6])
			if !good {
				return i, false
			}
			switch {
			case v == 0:
				return i, false
			case v >= 0xd800 && v <= 0xdbff:
				if pendingHigh {
					return i, false
				}
				pendingHigh = true
			case v >= 0xdc00 && v <= 0xdfff:
				if !pendingHigh {
					return i, false
				}
				pendingHigh = false
			default:
				if pendingHigh {
					return i, false
				}
			}
			i += 5
		default:
			if pendingHigh {
				return i, false
			}
		}
	}
	return i, false
}

func hex4(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v*16 + int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v*16 + int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v*16 + int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// jsonbFixed returns valid JSON b, which jsonb refuses, as JSON jsonb
// takes: the escapes it has no text for (\u0000, a lone surrogate) become
// U+FFFD, as the text columns have them. The value is decoded and encoded
// again, numbers kept as written; jsonb orders keys its own way anyway.
// ok is false when that is not enough (a number beyond numeric's range).
func jsonbFixed(b []byte) (fixed []byte, ok bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(withoutNUL(v)); err != nil {
		return nil, false
	}
	fixed = bytes.TrimSuffix(out.Bytes(), []byte{'\n'})
	return fixed, jsonbSafe(fixed)
}

// withoutNUL is v with every NUL in its strings and keys made U+FFFD (a
// lone surrogate escape was made U+FFFD by the decoder already).
func withoutNUL(v any) any {
	switch x := v.(type) {
	case string:
		return strings.ReplaceAll(x, "\x00", "\uFFFD")
	case []any:
		for i := range x {
			x[i] = withoutNUL(x[i])
		}
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[strings.ReplaceAll(k, "\x00", "\uFFFD")] = withoutNUL(e)
		}
		return m
	}
	return v
}
