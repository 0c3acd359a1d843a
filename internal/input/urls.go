package input

import (
	"bytes"
	"net/url"
	"strings"
)

// FormatURLs is one URL per line, each a GET.
const FormatURLs Format = "urls"

// The urls format: one URL a line, each fetched with GET; the id is the
// URL as written (a path is not resolved against the base URL), so that
// inserting or removing a line changes no other item's id, except that a
// password in the URL is masked; a URL listed twice is the same item,
// which the runner fetches once.
// Space around the URL is ignored; a URL is absolute or a path starting
// with "/" appended to the base URL.

var urlsFormat = format{
	name:   FormatURLs,
	detect: detectURL,
	parse:  (*Reader).parseURLLine,
	shape:  httpShape{},
}

// detectURL claims an absolute http or https URL, or, when a base URL is
// given, a path starting with "/".
func detectURL(l *firstLine) bool {
	s := string(l.text)
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && l.hasBase {
		return true
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// parseURLLine turns a urls line, number n, into an item, or returns why
// it cannot be run.
func (r *Reader) parseURLLine(line []byte, n int) (Item, string) {
	id := string(bytes.TrimSpace(line))
	u, parsed, reason := resolveURL(id, r.base)
	if reason != "" {
		return Item{}, reason
	}
	if _, secret := parsed.User.Password(); secret {
		// The id is written to the results and errors files and shown in
		// progress; the password must not be.
		id = parsed.Redacted()
	}
	return Item{ID: id, Method: "GET", URL: u, parsedURL: parsed}, ""
}
