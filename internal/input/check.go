package input

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The checks every format shares, each returning the reason for a BadLine
// ("" when all is well), and the check of the base URL.

// maxQuoted is how much of an input value a reason quotes; reasons stay a
// line long however long the value.
const maxQuoted = 80

// quoteInput quotes s for a message, shortened to its first maxQuoted
// bytes (at a character boundary) followed by "...".
func quoteInput(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

// checkUTF8 reports where b stops being UTF-8, if it does.
func checkUTF8(b []byte) string {
	if utf8.Valid(b) {
		return ""
	}
	i := 0
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	return fmt.Sprintf("invalid UTF-8 at byte %d", i+1)
}

// allowedMethods are the methods an item may use. CONNECT and TRACE have
// no place in a batch of API calls.
var allowedMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true,
}

// checkMethod returns m in upper case, or why it cannot be used.
func checkMethod(m string) (string, string) {
	if m == "" {
		return "", "empty method"
	}
	if !isToken(m) {
		return "", fmt.Sprintf("bad method %s: not an HTTP token", quoteInput(m))
	}
	m = strings.ToUpper(m)
	if !allowedMethods[m] {
		return "", fmt.Sprintf("unsupported method %s (want GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS)", quoteInput(m))
	}
	return m, ""
}

// isToken reports whether s is an HTTP token (RFC 9110, section 5.6.2):
// what a method or a header name must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ValidHeaderValue reports whether v can be sent as a header value: no
// control characters but tab (a line break would smuggle a header in,
// and net/http refuses to send one).
func ValidHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// resolveURL returns the absolute URL of s, as text and parsed: s itself
// when it is an absolute http or https URL, base + s when s is a path
// starting with "/".
// Anything else is a reason: a relative URL of another form, a relative
// URL without base, another scheme, no host, white space (which in a URL
// is more likely two fields than one), or a URL that does not parse.
func resolveURL(s, base string) (string, *url.URL, string) {
	if strings.ContainsAny(s, " \t\r\n\v\f") {
		return "", nil, fmt.Sprintf("URL %s contains white space", quoteInput(s))
	}
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		if base == "" {
			return "", nil, fmt.Sprintf("relative URL %s needs --base-url", quoteInput(s))
		}
		s = joinBase(base, s)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return "", nil, fmt.Sprintf("bad URL %s: %v", quoteInput(s), err)
	case u.Scheme == "" && u.Host != "":
		return "", nil, fmt.Sprintf("URL %s has no scheme (want http or https)", quoteInput(s))
	case u.Scheme == "":
		return "", nil, fmt.Sprintf(`URL %s is neither absolute (http://...) nor a path starting with "/"`, quoteInput(s))
	case u.Scheme != "http" && u.Scheme != "https":
		return "", nil, fmt.Sprintf("unsupported URL scheme %s (want http or https)", quoteInput(u.Scheme))
	case u.Host == "":
		return "", nil, fmt.Sprintf("URL %s has no host", quoteInput(s))
	}
	u.Host = strings.TrimSuffix(u.Host, ":") // as http.NewRequest does: "host:" is "host"
	return s, u, ""
}

// checkBaseURL validates Options.BaseURL and returns it without its
// trailing slashes.
func checkBaseURL(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", fmt.Errorf("input: base URL %s: %v", quoteInput(s), errors.Unwrap(err))
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || strings.ContainsAny(s, " \t\r\n\v\f"):
		return "", fmt.Errorf("input: base URL %s must be an absolute http or https URL", quoteInput(s))
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("input: base URL %s must not have a query or a fragment", quoteInput(s))
	}
	return strings.TrimRight(s, "/"), nil
}

// byteSize formats a size in bytes for messages: "10 MiB", "64 KiB",
// "1000 bytes".
func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	case n == 1:
		return "1 byte"
	}
	return strconv.Itoa(n) + " bytes"
}
