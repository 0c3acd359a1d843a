package batch

// jsonScan tells whether a body that is too large to hold is valid JSON,
// reading it a piece at a time, with exactly the answer json.Valid would
// give the whole of it: results embed a JSON body as it is and turn any
// other into a string (input's bodyJSON), and a spooled body must land on
// the same side. encoding/json's own scanner needs the whole input, and
// its streaming Decoder buffers a value whole and accepts what Valid
// refuses (several values), so this is a port of that scanner's states
// (encoding/json/scanner.go), maximum depth included; FuzzJSONScan holds
// it to json.Valid. It also counts the bytes of the body compacted (json.Compact:
// whitespace outside strings dropped), the length the line will have.
//
// The zero value is ready for a new body; not safe for concurrent use.
type jsonScan struct {
	step    scanStep
	stack   []byte // one parse state a nested object or array
	failed  bool
	endTop  bool // the top-level value ended; only whitespace may follow
	compact int64
}

type scanStep uint8

const (
	sBeginValue scanStep = iota // the zero value: at the start
	sBeginValueOrEmpty
	sBeginStringOrEmpty
	sBeginString
	sEndValue
	sEndTop
	sInString
	sInStringEsc
	sInStringEscU
	sInStringEscU1
	sInStringEscU12
	sInStringEscU123
	sNeg
	s1
	s0
	sDot
	sDot0
	sE
	sESign
	sE0
	sT
	sTr
	sTru
	sF
	sFa
	sFal
	sFals
	sN
	sNu
	sNul
)

// Parse states, as encoding/json names them.
const (
	parseObjectKey byte = iota
	parseObjectValue
	parseArrayValue
)

// maxNestingDepth is encoding/json's: a deeper body is not valid JSON to
// json.Valid.
const maxNestingDepth = 10000

// Write scans the next piece of the body; it never fails (Valid says).
func (s *jsonScan) Write(p []byte) (int, error) {
	for i := 0; i < len(p) && !s.failed; i++ {
		if s.step == sInString {
			// Most of a large body is inside strings: skip to what ends
			// or escapes one, or is refused in one.
			j := i
			for j < len(p) && p[j] != '"' && p[j] != '\\' && p[j] >= 0x20 {
				j++
			}
			s.compact += int64(j - i)
			if i = j; i == len(p) {
				break
			}
		}
		if !s.byte(p[i]) {
			s.compact++
		}
	}
	return len(p), nil
}

// Valid reports whether the body written was one JSON value, as
// json.Valid would; call it once, at the end.
func (s *jsonScan) Valid() bool {
	if s.failed {
		return false
	}
	if s.endTop {
		return true
	}
	s.byte(' ') // ends a number at the very end, as the scanner's eof does
	return s.endTop && !s.failed
}

// Compact is the length of the body compacted, meaningful when Valid.
func (s *jsonScan) Compact() int64 { return s.compact }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// byte steps over c and reports whether it was insignificant space.
func (s *jsonScan) byte(c byte) (space bool) {
	switch s.step {
	case sBeginValueOrEmpty:
		if isSpace(c) {
			return true
		}
		if c == ']' {
			return s.endValue(c)
		}
		return s.beginValue(c)
	case sBeginValue:
		return s.beginValue(c)
	case sBeginStringOrEmpty:
		if isSpace(c) {
			return true
		}
		if c == '}' {
			s.stack[len(s.stack)-1] = parseObjectValue
			return s.endValue(c)
		}
		return s.beginString(c)
	case sBeginString:
		return s.beginString(c)
	case sEndValue:
		return s.endValue(c)
	case sEndTop:
		return s.endTopByte(c)
	case sInString:
		switch {
		case c == '"':
			s.step = sEndValue
		case c == '\\':
			s.step = sInStringEsc
		case c < 0x20:
			s.failed = true
		}
	case sInStringEsc:
		switch c {
		case 'b', 'f', 'n', 'r', 't', '\\', '/', '"':
			s.step = sInString
		case 'u':
			s.step = sInStringEscU
		default:
			s.failed = true
		}
	case sInStringEscU, sInStringEscU1, sInStringEscU12, sInStringEscU123:
		if !isHex(c) {
			s.failed = true
		} else if s.step == sInStringEscU123 {
			s.step = sInString
		} else {
			s.step++
		}
	case sNeg:
		switch {
		case c == '0':
			s.step = s0
		case '1' <= c && c <= '9':
			s.step = s1
		default:
			s.failed = true
		}
	case s1:
		if '0' <= c && c <= '9' {
			return false
		}
		return s.after0(c)
	case s0:
		return s.after0(c)
	case sDot:
		if '0' <= c && c <= '9' {
			s.step = sDot0
		} else {
			s.failed = true
		}
	case sDot0:
		switch {
		case '0' <= c && c <= '9':
		case c == 'e' || c == 'E':
			s.step = sE
		default:
			return s.endValue(c)
		}
	case sE:
		if c == '+' || c == '-' {
			s.step = sESign
			return false
		}
		return s.eSign(c)
	case sESign:
		return s.eSign(c)
	case sE0:
		if '0' <= c && c <= '9' {
			return false
		}
		return s.endValue(c)
	default:
		s.literal(c)
	}
	return false
}

// literal steps through true, false and null.
func (s *jsonScan) literal(c byte) {
	var want byte
	next := s.step + 1
	switch s.step {
	case sT:
		want = 'r'
	case sTr:
		want = 'u'
	case sTru:
		want, next = 'e', sEndValue
	case sF:
		want = 'a'
	case sFa:
		want = 'l'
	case sFal:
		want = 's'
	case sFals:
		want, next = 'e', sEndValue
	case sN:
		want = 'u'
	case sNu:
		want = 'l'
	case sNul:
		want, next = 'l', sEndValue
	}
	if c != want {
		s.failed = true
		return
	}
	s.step = next
}

func (s *jsonScan) after0(c byte) bool {
	switch c {
	case '.':
		s.step = sDot
		return false
	case 'e', 'E':
		s.step = sE
		return false
	}
	return s.endValue(c)
}

func (s *jsonScan) eSign(c byte) bool {
	if '0' <= c && c <= '9' {
		s.step = sE0
	} else {
		s.failed = true
	}
	return false
}

func (s *jsonScan) push(ps byte) {
	s.stack = append(s.stack, ps)
	if len(s.stack) > maxNestingDepth {
		s.failed = true
	}
}

func (s *jsonScan) pop() {
	s.stack = s.stack[:len(s.stack)-1]
	if len(s.stack) == 0 {
		s.step, s.endTop = sEndTop, true
	} else {
		s.step = sEndValue
	}
}

func (s *jsonScan) beginValue(c byte) bool {
	if isSpace(c) {
		return true
	}
	switch {
	case c == '{':
		s.step = sBeginStringOrEmpty
		s.push(parseObjectKey)
	case c == '[':
		s.step = sBeginValueOrEmpty
		s.push(parseArrayValue)
	case c == '"':
		s.step = sInString
	case c == '-':
		s.step = sNeg
	case c == '0':
		s.step = s0
	case c == 't':
		s.step = sT
	case c == 'f':
		s.step = sF
	case c == 'n':
		s.step = sN
	case '1' <= c && c <= '9':
		s.step = s1
	default:
		s.failed = true
	}
	return false
}

func (s *jsonScan) beginString(c byte) bool {
	if isSpace(c) {
		return true
	}
	if c == '"' {
		s.step = sInString
	} else {
		s.failed = true
	}
	return false
}

func (s *jsonScan) endValue(c byte) bool {
	n := len(s.stack)
	if n == 0 {
		s.step, s.endTop = sEndTop, true
		return s.endTopByte(c)
	}
	if isSpace(c) {
		s.step = sEndValue
		return true
	}
	switch s.stack[n-1] {
	case parseObjectKey:
		if c == ':' {
			s.stack[n-1] = parseObjectValue
			s.step = sBeginValue
			return false
		}
	case parseObjectValue:
		if c == ',' {
			s.stack[n-1] = parseObjectKey
			s.step = sBeginString
			return false
		}
		if c == '}' {
			s.pop()
			return false
		}
	case parseArrayValue:
		if c == ',' {
			s.step = sBeginValue
			return false
		}
		if c == ']' {
			s.pop()
			return false
		}
	}
	s.failed = true
	return false
}

func (s *jsonScan) endTopByte(c byte) bool {
	if !isSpace(c) {
		s.failed = true
		return false
	}
	return true
}
