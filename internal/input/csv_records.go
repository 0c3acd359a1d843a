package input

import (
	"bufio"
	"io"
)

// Splitting CSV input into records before encoding/csv parses them.
//
// encoding/csv reads a record whole, however long, and has no way to skip
// one: a 100 MB field would be held in memory, and after the cap no record
// could follow. So the input is first cut into records here, with a state
// machine that follows quotes exactly as encoding/csv does (comma ',', no
// lazy quotes, no comments), holding at most MaxLine bytes of a record and
// skipping the rest of a longer one. Each record is then parsed on its own
// by encoding/csv, which gives the fields and the errors. FuzzCSVRecords
// checks that the two agree on where records end.

// csvState is where the splitter is within a record.
type csvState uint8

const (
	csvFieldStart csvState = iota // at the start of a field
	csvUnquoted                   // in a field that does not start with a quote
	csvQuoted                     // in a quoted field: a line break does not end the record
	csvQuote                      // just after a quote in a quoted field: closing or the first of ""
	csvQuoteCR                    // a quoted field's closing quote, then '\r'
	csvBroken                     // after a quote encoding/csv refuses: the record ends with the line
)

// scan returns the state after reading chunk, in which a '\n' can only be
// the last byte.
func (st csvState) scan(chunk []byte) csvState {
	for _, c := range chunk {
		switch st {
		case csvFieldStart:
			switch c {
			case '"':
				st = csvQuoted
			case ',', '\n':
			default:
				st = csvUnquoted
			}
		case csvUnquoted:
			switch c {
			case ',':
				st = csvFieldStart
			case '"':
				st = csvBroken // a bare quote
			}
		case csvQuoted:
			if c == '"' {
				st = csvQuote
			}
		case csvQuote:
			switch c {
			case '"':
				st = csvQuoted // "" is a quote within the field
			case ',', '\n':
				st = csvFieldStart
			case '\r':
				st = csvQuoteCR
			default:
				st = csvBroken // text after the closing quote
			}
		case csvQuoteCR:
			if c == '\n' {
				st = csvFieldStart // "\r\n" is a line break
			} else {
				st = csvBroken
			}
		}
	}
	return st
}

// nextRecord returns the next CSV record's bytes, line breaks included,
// and the number of the line it starts on. The record is valid until the
// next call. over reports a record longer than max (its last line break
// not counted), whose bytes are not returned; reading then resumes at the
// line after start, as after a record resumeAfter puts back: a record is
// held up to max bytes and no further, so the lines after its first that
// were read are put back (at most max bytes of them), and the rest of the
// input is read from where the cap was met. A first line over max is
// skipped without being held. At the end of the input it returns io.EOF;
// a read error is returned as is.
func (l *lineReader) nextRecord() (rec []byte, start int, over bool, err error) {
	if err := l.start(); err != nil {
		return nil, l.n + 1, false, err
	}
	if l.eof && len(l.pend) == 0 {
		return nil, l.n + 1, false, io.EOF
	}
	start = l.n + 1
	l.buf = l.buf[:0]
	l.overQuote = 0
	total := 0
	first := -1      // length of the record's first line in buf, once it is read
	partial := false // the current line has bytes
	st := csvFieldStart
	for {
		chunk, err := l.readSlice()
		if err != nil && err != bufio.ErrBufferFull && err != io.EOF {
			return nil, start, false, err
		}
		total += len(chunk)
		if total > l.max+2 { // over even if the chunk ends in "\r\n"
			if err := l.skipRecord(start, first, chunk, err); err != nil {
				return nil, start, false, err
			}
			return nil, start, true, nil
		}
		st = st.scan(chunk)
		partial = partial || len(chunk) > 0
		l.buf = append(l.buf, chunk...)
		if err == io.EOF {
			l.eof = true
			if total == 0 {
				return nil, start, false, io.EOF
			}
			if partial {
				l.n++
			}
			break
		}
		if err == nil { // the chunk ends a line
			l.n++
			partial = false
			if first < 0 {
				first = len(l.buf)
			}
			if st != csvQuoted {
				break
			}
		}
	}
	rec = l.buf
	if cap(l.buf) > keepLineBuf {
		l.buf = nil
	}
	n := len(rec)
	if n > 0 && rec[n-1] == '\n' {
		n--
		if n > 0 && rec[n-1] == '\r' {
			n--
		}
	}
	if n > l.max {
		// Within max+2 bytes read, over only by its line breaks: what
		// follows its first line is put back all the same.
		if first >= 0 && first < len(rec) {
			l.putBack(rec[:first], rec[first:], nil, start)
		}
		return nil, start, true, nil
	}
	return rec, start, false, nil
}

// skipRecord ends a record, starting on line start, that chunk (read with
// err) took over the cap. When its first line is whole in buf (first is
// its length), the rest of buf and chunk are put back, to be read again
// from line start+1; otherwise the first line is over by itself, and the
// rest of it is skipped a chunk at a time.
func (l *lineReader) skipRecord(start, first int, chunk []byte, err error) error {
	if err == io.EOF {
		l.eof = true
	}
	if first >= 0 {
		l.putBack(l.buf[:first], l.buf[first:], chunk, start)
		if cap(l.buf) > keepLineBuf {
			l.buf = nil
		}
		return nil
	}
	for err == bufio.ErrBufferFull {
		if _, err = l.readSlice(); err == io.EOF {
			l.eof = true
		} else if err != nil && err != bufio.ErrBufferFull {
			return err
		}
	}
	l.n = start
	return nil
}

// putBack puts rest and then more, the bytes read after the first line
// of a record starting on line start, back before what is still to be
// read, so that reading resumes on line start+1; it notes in overQuote
// where the quoted field that ran on past firstLine opened. rest and more
// may be parts of buf, br's buffer or pend: they are copied first.
func (l *lineReader) putBack(firstLine, rest, more []byte, start int) {
	l.overQuote = openQuoteColumn(firstLine)
	p := make([]byte, 0, len(rest)+len(more)+len(l.pend))
	p = append(append(append(p, rest...), more...), l.pend...)
	l.pend = p
	l.n = start
}
