package batch

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice/internal/credential"
)

// Requests go straight to the Transport (execute.go), so redirects are
// followed here, as http.Client follows them: a list of URLs is full of
// http -> https, a trailing slash, a page that moved. Each hop goes
// through the gate, as it is a call to the API too.

// maxRedirects is how many redirects one item's call follows, as many as
// http.Client does.
const maxRedirects = 10

// redirected returns the request that follows resp, the answer to req,
// when resp is a redirect to follow: nil, nil when it is not (not a
// redirect, or one without a Location, which is then the answer). hops
// is how many were followed before.
func redirected(req *http.Request, resp *http.Response, hops int) (*http.Request, error) {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil, nil
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, nil
	}
	if hops >= maxRedirects {
		return nil, fmt.Errorf("stopped after %d redirects, the last to %s", maxRedirects, loc)
	}
	u, err := req.URL.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("redirected to %q, which is not a URL: %w", loc, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("redirected to %s, which is not http or https", u.Redacted())
	}
	next := req.Clone(req.Context()) // its own header: req's may be shared
	next.URL, next.Host = u, ""
	keepBody := resp.StatusCode == http.StatusTemporaryRedirect || resp.StatusCode == http.StatusPermanentRedirect
	if !keepBody && req.Method != http.MethodGet && req.Method != http.MethodHead {
		// 301, 302 and 303 turn the call into a GET, as browsers and
		// http.Client do.
		next.Method = http.MethodGet
	}
	switch {
	case next.Method == http.MethodGet && !keepBody || next.Method == http.MethodHead:
		next.Body, next.GetBody, next.ContentLength = nil, nil, 0
		next.Header.Del("Content-Type")
		next.Header.Del("Content-Length")
	case req.GetBody != nil:
		if next.Body, err = req.GetBody(); err != nil {
			return nil, fmt.Errorf("redirected to %s: %w", u.Redacted(), err)
		}
	case req.Body != nil && req.Body != http.NoBody:
		return nil, fmt.Errorf("redirected to %s, and the body cannot be sent again", u.Redacted())
	}
	if !strings.EqualFold(u.Hostname(), req.URL.Hostname()) {
		credential.StripForeign(next.Header) // and, once gone, gone for the hops after
	}
	return next, nil
}

// discard reads a little of a body not wanted, so that its connection may
// serve again, and closes it.
func discard(body io.ReadCloser) {
	io.CopyN(io.Discard, body, 64<<10)
	body.Close()
}
