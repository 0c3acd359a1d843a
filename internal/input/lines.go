package input

import (
	"bufio"
	"bytes"
	"io"
)

// inputBufSize is the read buffer of a lineReader. A line that fits in it
// is returned without a copy.
const inputBufSize = 64 << 10

// keepLineBuf is the largest line buffer a lineReader keeps between lines;
// a larger one, grown for a long line, is dropped so that a few long lines
// do not pin MaxLine bytes for the rest of the run.
const keepLineBuf = 1 << 20

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// lineReader splits its input into lines, holding at most one line of at
// most max bytes. A longer line is reported and skipped chunk by chunk,
// never held whole.
type lineReader struct {
	br      *bufio.Reader
	max     int    // longest line, line break not counted
	n       int    // number of the last line read
	buf     []byte // assembles a line longer than br's buffer
	started bool   // the byte order mark has been looked for
	eof     bool   // br is at the end
	// pend holds lines put back by resumeAfter, read before br. It is
	// its own copy: buf is reused for the next line.
	pend []byte
	// overQuote is, when the last record nextRecord found over the cap
	// spans lines, the column of the quote opening the field that runs
	// on past its first line (as openQuoteColumn); 0 otherwise.
	overQuote int
	done      <-chan struct{} // Options.Done
}

func newLineReader(r io.Reader, max int, done <-chan struct{}) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, inputBufSize), max: max, done: done}
}

// start skips a UTF-8 byte order mark at the start of the input. It runs
// on the first read rather than in newLineReader so that making a Reader
// of an explicit format does not wait for input.
func (l *lineReader) start() error {
	if l.started {
		return nil
	}
	l.started = true
	b, err := l.br.Peek(len(utf8BOM))
	if bytes.Equal(b, utf8BOM) {
		_, err = l.br.Discard(len(utf8BOM))
		return err
	}
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return err
	}
	return nil
}

// next returns the next line without its "\n" or "\r\n", and its number.
// The line is valid until the next call. over reports a line longer than
// max, whose bytes are not returned. At the end of the input next returns
// io.EOF; a read error is returned as is.
func (l *lineReader) next() (line []byte, n int, over bool, err error) {
	if err := l.start(); err != nil {
		return nil, l.n, false, err
	}
	if l.eof && len(l.pend) == 0 {
		return nil, l.n, false, io.EOF
	}
	l.buf = l.buf[:0]
	total := 0
	for {
		chunk, err := l.readSlice()
		total += len(chunk)
		switch {
		case over:
		case total > l.max+2: // over even if the chunk ends in "\r\n"
			over = true
		case err == nil && len(l.buf) == 0:
			line = chunk // the whole line is in br's buffer
		default:
			l.buf = append(l.buf, chunk...)
			line = l.buf
		}
		if err == bufio.ErrBufferFull {
			if over {
				select {
				case <-l.done:
					return nil, l.n, false, ErrInterrupted
				default:
				}
			}
			continue
		}
		if err == io.EOF {
			l.eof = true
			if total == 0 {
				return nil, l.n, false, io.EOF
			}
		} else if err != nil {
			return nil, l.n, false, err
		}
		break
	}
	l.n++
	if cap(l.buf) > keepLineBuf {
		l.buf = nil // line keeps it alive until the caller is done
	}
	if over {
		return nil, l.n, true, nil
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) > l.max {
		return nil, l.n, true, nil
	}
	return line, l.n, false, nil
}

// readSlice is br.ReadSlice('\n'), served first from the lines that
// resumeAfter put back.
func (l *lineReader) readSlice() ([]byte, error) {
	if len(l.pend) == 0 {
		if l.eof {
			return nil, io.EOF
		}
		return l.br.ReadSlice('\n')
	}
	if i := bytes.IndexByte(l.pend, '\n'); i >= 0 {
		chunk := l.pend[:i+1]
		l.pend = l.pend[i+1:]
		return chunk, nil
	}
	chunk := l.pend
	l.pend = nil
	if l.eof {
		return chunk, io.EOF
	}
	return chunk, bufio.ErrBufferFull // the line goes on in br
}

// resumeAfter puts back the lines of rec, which nextRecord just returned
// as starting on line start, after its first, so that reading resumes on
// line start+1. A record that encoding/csv rejects may be a stray quote
// that ran on over the lines after it: each of those is read again on its
// own rather than lost with it. It reports whether rec had more than one
// line.
func (l *lineReader) resumeAfter(rec []byte, start int) bool {
	i := bytes.IndexByte(rec, '\n')
	if i < 0 || i == len(rec)-1 {
		return false
	}
	l.pend = append(bytes.Clone(rec[i+1:]), l.pend...)
	l.n = start
	return true
}

// unread puts back line, number n, which next just returned, so that the
// next read returns it again.
func (l *lineReader) unread(line []byte, n int) {
	again := make([]byte, len(line)+1)
	copy(again, line)
	again[len(line)] = '\n'
	var r io.Reader = bytes.NewReader(again)
	if !l.eof {
		r = io.MultiReader(r, l.br)
	}
	l.br = bufio.NewReaderSize(r, inputBufSize)
	l.n = n - 1
	l.eof = false
}
