package input

import (
	"bytes"
	"strconv"
)

// The urls format: one URL a line, each fetched with GET; the id is the
// line number. Space around the URL is ignored; a URL is absolute or a
// path starting with "/" appended to the base URL.

// parseURLLine turns a urls line, number n, into an item, or returns why
// it cannot be run.
func (r *Reader) parseURLLine(line []byte, n int) (Item, string) {
	u, parsed, reason := resolveURL(string(bytes.TrimSpace(line)), r.base)
	if reason != "" {
		return Item{}, reason
	}
	return Item{ID: strconv.Itoa(n), Method: "GET", URL: u, parsedURL: parsed}, ""
}
