package input

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Detecting the format, for FormatAuto: the rules are in NewReader's
// comment.

// detect reads up to the first line that is neither blank nor a comment,
// picks the format from it (see NewReader), and puts the line back.
func (r *Reader) detect(csvOpts bool) (*format, error) {
	for {
		line, n, over, err := r.lines.next()
		switch {
		case err == io.EOF:
			if csvOpts {
				return &csvFormat, nil
			}
			return &urlsFormat, nil // nothing to run, in any format
		case err != nil:
			return nil, fmt.Errorf("input: reading the input: %w", err)
		case over:
			return nil, fmt.Errorf("input: cannot tell the input's format: line %d is over the %s cap; use --format", n, r.maxStr)
		}
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		f := detectLine(&firstLine{text: t, hasBase: r.base != ""})
		if f == nil {
			if !csvOpts {
				return nil, errors.New("input: cannot tell the input's format; use --format")
			}
			f = &csvFormat
		}
		r.lines.unread(line, n)
		return f, nil
	}
}

// detectLine returns the first format in detectOrder that claims l, or nil.
func detectLine(l *firstLine) *format {
	for _, f := range detectOrder {
		if f.detect != nil && f.detect(l) {
			return f
		}
	}
	return nil
}
