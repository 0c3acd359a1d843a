package batch

import (
	"encoding/base64"
	"io"
	"unicode/utf8"
)

// A spooled body goes into its results line as the shapes would put it
// there whole: a body that is not valid UTF-8 as the JSON string of its
// base64 (input's body_base64), a valid JSON body compacted
// (json.Compact), any other as a JSON string escaped as encoding/json
// escapes a string without HTML escaping. These do the same a piece at a
// time, from a reader to a writer; FuzzTranscode holds them to the
// shapes' lines. (writeCompact and writeJSONString still make a run of
// invalid UTF-8 one U+FFFD, as bytes.ToValidUTF8 does; the runner gives
// them only bodies that are valid UTF-8.)

// writeBase64JSON writes what r holds to w as the JSON string of its
// standard base64 (padded), through buf, and returns how many bytes it
// wrote: base64JSONLen of what it read.
func writeBase64JSON(w io.Writer, r io.Reader, buf []byte) (int64, error) {
	k := len(buf) / 7 // buf holds k*3 bytes read and their k*4 encoded
	if k == 0 {
		buf, k = make([]byte, 7), 1
	}
	in, out := buf[:3*k], buf[3*k:7*k]
	var n int64
	write := func(p []byte) error {
		m, err := w.Write(p)
		n += int64(m)
		return err
	}
	if err := write([]byte{'"'}); err != nil {
		return n, err
	}
	for {
		// Whole pieces of in, a multiple of 3 bytes, encode without
		// padding: only the last piece's end is padded, as it would be
		// with the body whole.
		m, err := io.ReadFull(r, in)
		if m > 0 {
			base64.StdEncoding.Encode(out, in[:m])
			if err := write(out[:base64.StdEncoding.EncodedLen(m)]); err != nil {
				return n, err
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return n, err
		}
	}
	return n, write([]byte{'"'})
}

// base64JSONLen is the length of the JSON string of the base64 of size
// bytes, quotes included.
func base64JSONLen(size int64) int64 { return (size+2)/3*4 + 2 }

// writeCompact copies valid JSON from r to w without the whitespace
// outside its strings, each run of bytes that are not UTF-8 (which
// json.Valid takes inside a string) made one U+FFFD, through buf (of at
// least utf8.UTFMax bytes), and returns how many bytes it wrote.
func writeCompact(w io.Writer, r io.Reader, buf []byte) (int64, error) {
	c := compactor{stringEncoder: stringEncoder{w: w, out: make([]byte, 0, 64<<10)}}
	carry := 0 // bytes at the start of buf that began a character the last read cut
	for c.err == nil {
		n, err := r.Read(buf[carry:])
		n += carry
		if err != nil && err != io.EOF {
			return c.n, err
		}
		end := err == io.EOF
		carry = c.compact(buf[:n], end)
		copy(buf, buf[n-carry:n])
		if end {
			break
		}
	}
	c.flush()
	return c.n, c.err
}

// compactor is the state writeCompact keeps between pieces.
type compactor struct {
	stringEncoder
	inString, escaped bool
}

// compact writes p compacted and returns how many bytes at its end it
// left for the next piece: the start of a character p cuts, unless end
// says there is no next piece.
func (c *compactor) compact(p []byte, end bool) (left int) {
	start := 0 // p[start:i] is to be written as it is
	for i := 0; i < len(p) && c.err == nil; {
		b := p[i]
		if b >= utf8.RuneSelf { // only inside a string, in valid JSON
			if !end && len(p)-i < utf8.UTFMax && !utf8.FullRune(p[i:]) {
				c.emitBytes(p[start:i])
				return len(p) - i
			}
			r, size := utf8.DecodeRune(p[i:])
			if r == utf8.RuneError && size == 1 {
				c.emitBytes(p[start:i])
				if !c.invalid {
					c.emit(0xEF, 0xBF, 0xBD) // U+FFFD
					c.invalid = true
				}
				i++
				start = i
				continue
			}
			c.invalid = false
			i += size
			continue
		}
		c.invalid = false
		i++
		if c.inString {
			switch {
			case c.escaped:
				c.escaped = false
			case b == '\\':
				c.escaped = true
			case b == '"':
				c.inString = false
			}
		} else if b == '"' {
			c.inString = true
		} else if b == ' ' || b == '\t' || b == '\n' || b == '\r' {
			c.emitBytes(p[start : i-1])
			start = i
		}
	}
	c.emitBytes(p[start:])
	return 0
}

// writeJSONString writes what r holds to w as one JSON string, through
// buf (of at least utf8.UTFMax bytes), and returns how many bytes it wrote.
func writeJSONString(w io.Writer, r io.Reader, buf []byte) (int64, error) {
	e := stringEncoder{w: w, out: make([]byte, 0, 64<<10)}
	e.emit('"')
	carry := 0 // bytes at the start of buf that began a character the last read cut
	for e.err == nil {
		n, err := r.Read(buf[carry:])
		n += carry
		if err != nil && err != io.EOF {
			return e.n, err
		}
		end := err == io.EOF
		carry = e.encode(buf[:n], end)
		copy(buf, buf[n-carry:n])
		if end {
			break
		}
	}
	e.emit('"')
	e.flush()
	return e.n, e.err
}

// stringEncoder is the state writeJSONString keeps between pieces.
type stringEncoder struct {
	w       io.Writer
	out     []byte // encoded, not yet written
	n       int64
	err     error
	invalid bool // the last byte was part of invalid UTF-8 (ToValidUTF8's run)
}

func (e *stringEncoder) emit(b ...byte) { e.emitBytes(b) }

func (e *stringEncoder) emitBytes(b []byte) {
	for len(b) > 0 {
		k := min(len(b), cap(e.out)-len(e.out))
		e.out = append(e.out, b[:k]...)
		b = b[k:]
		if len(e.out) == cap(e.out) {
			e.flush()
		}
	}
}

func (e *stringEncoder) flush() {
	if e.err != nil || len(e.out) == 0 {
		return
	}
	var k int
	k, e.err = e.w.Write(e.out)
	e.n += int64(k)
	e.out = e.out[:0]
}

const lowerHex = "0123456789abcdef"

// encode writes p as the inside of a JSON string and returns how many
// bytes at its end it left for the next piece: the start of a character
// p cuts, unless end says there is no next piece.
func (e *stringEncoder) encode(p []byte, end bool) (left int) {
	start := 0
	for i := 0; i < len(p) && e.err == nil; {
		c := p[i]
		if c < utf8.RuneSelf {
			e.invalid = false
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			e.emitBytes(p[start:i])
			switch c {
			case '\\', '"':
				e.emit('\\', c)
			case '\b':
				e.emit('\\', 'b')
			case '\f':
				e.emit('\\', 'f')
			case '\n':
				e.emit('\\', 'n')
			case '\r':
				e.emit('\\', 'r')
			case '\t':
				e.emit('\\', 't')
			default:
				e.emit('\\', 'u', '0', '0', lowerHex[c>>4], lowerHex[c&0xF])
			}
			i++
			start = i
			continue
		}
		if !end && len(p)-i < utf8.UTFMax && !utf8.FullRune(p[i:]) {
			e.emitBytes(p[start:i])
			return len(p) - i
		}
		r, size := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			e.emitBytes(p[start:i])
			if !e.invalid {
				e.emit(0xEF, 0xBF, 0xBD) // U+FFFD
				e.invalid = true
			}
			i++
			start = i
			continue
		case r == '\u2028' || r == '\u2029':
			e.emitBytes(p[start:i])
			e.emit('\\', 'u', '2', '0', '2', lowerHex[r&0xF])
			i += size
			start = i
		default:
			i += size
		}
		e.invalid = false
	}
	e.emitBytes(p[start:])
	return 0
}
