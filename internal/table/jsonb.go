package table

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
