package input

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Detecting the format, for FormatAuto: the rules are in NewReader's
// comment.

// detect reads up to the first line that is neither blank nor a comment,
// picks the format from it (see NewReader), and puts the line back.
func (r *Reader) detect(csvOpts bool) (Format, error) {
	for {
		line, n, over, err := r.lines.next()
		switch {
		case err == io.EOF:
			if csvOpts {
				return FormatCSV, nil
			}
			return FormatURLs, nil // nothing to run, in any format
		case err != nil:
			return "", fmt.Errorf("input: reading the input: %w", err)
		case over:
			return "", fmt.Errorf("input: cannot tell the input's format: line %d is over the %s cap; use --format", n, r.maxStr)
		}
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		f, ok := detectLine(t, r.base != "")
		if !ok {
			if !csvOpts {
				return "", errors.New("input: cannot tell the input's format; use --format")
			}
			f = FormatCSV
		}
		r.lines.unread(line, n)
		return f, nil
	}
}

// detectLine picks the format of the first line that matters, trimmed.
func detectLine(t []byte, hasBase bool) (Format, bool) {
	if t[0] == '{' {
		m, reason := jsonObject(t, nil)
		if reason != "" {
			return FormatHTTP, true // http reports the line as it is
		}
		customID := m.has("custom_id")
		params := m.has("params")
		body := m.has("body")
		u := m.has("url")
		switch {
		case customID && params:
			return FormatAnthropic, true
		case customID && (body || u):
			return FormatOpenAI, true
		}
		return FormatHTTP, true
	}
	s := string(t)
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && hasBase {
		return FormatURLs, true
	}
	if u, err := url.Parse(s); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return FormatURLs, true
	}
	if strings.Contains(s, ",") {
		return FormatCSV, true
	}
	return "", false
}
