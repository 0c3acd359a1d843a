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
// not counted), whose bytes are not returned. At the end of the input it
// returns io.EOF; a read error is returned as is.
func (l *lineReader) nextRecord() (rec []byte, start int, over bool, err error) {
	if err := l.start(); err != nil {
		return nil, l.n + 1, false, err
	}
	if l.eof && len(l.pend) == 0 {
		return nil, l.n + 1, false, io.EOF
	}
	start = l.n + 1
	l.buf = l.buf[:0]
	total := 0
	partial := false // the current line has bytes
	st := csvFieldStart
	for {
		chunk, err := l.readSlice()
		if err != nil && err != bufio.ErrBufferFull && err != io.EOF {
			return nil, start, false, err
		}
		st = st.scan(chunk)
		total += len(chunk)
		partial = partial || len(chunk) > 0
		if !over {
			if total > l.max+2 {
				over = true
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
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
			if st != csvQuoted {
				break
			}
		}
	}
	l.unclosed = st == csvQuoted || st == csvBroken
	rec = l.buf
	if cap(l.buf) > keepLineBuf {
		l.buf = nil
	}
	if !over {
		n := len(rec)
		if n > 0 && rec[n-1] == '\n' {
			n--
			if n > 0 && rec[n-1] == '\r' {
				n--
			}
		}
		over = n > l.max
	}
	if over {
		return nil, start, true, nil
	}
	return rec, start, false, nil
}
