package proxy

import (
	"net/http"
	"net/url"
	"strings"
)

// A route sends the path on after its upstream's own (prefix /api to
// http://host/base sends /api/x as /base/api/x, or /base/x with
// StripPrefix), and net/http passes a path on as it came: /api/../secret
// would reach /base/../secret, which the upstream or a server in front of
// it resolves to /secret, outside the base the operator configured. No
// client that means well sends a dot segment (they normalise paths before
// sending), so any request whose path holds one is refused with 400,
// before a route is chosen and before any quota is used: raw or
// percent-encoded (%2e, %2E, %2f, also encoded twice: %252e), with
// backslashes as slashes (%5c too) and with a ;parameter after the dots
// (..;/, which some servers read as ..).

// maxUnescape is how many rounds of percent-decoding dotSegment looks
// through: a server behind the upstream may decode once more.
const maxUnescape = 3

// dotSegment reports whether the request target's path (raw, as sent),
// read as any server along the way might read it, has a "." or ".."
// segment.
func dotSegment(target string) bool {
	p, _, _ := strings.Cut(target, "?")
	for i := 0; ; i++ {
		if hasDotSegment(p) {
			return true
		}
		if i == maxUnescape || !strings.Contains(p, "%") {
			return false
		}
		d, err := url.PathUnescape(p)
		if err != nil || d == p {
			return false
		}
		p = d
	}
}

// hasDotSegment reports whether p, split at '/' and '\', has a segment
// that is "." or "..", ignoring a ";parameter" after it.
func hasDotSegment(p string) bool {
	for len(p) > 0 {
		end := strings.IndexAny(p, `/\`)
		seg := p
		if end >= 0 {
			seg, p = p[:end], p[end+1:]
		} else {
			p = ""
		}
		if i := strings.IndexByte(seg, ';'); i >= 0 {
			seg = seg[:i]
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// refuseDotSegment answers a request whose path has a dot segment with
// 400, in the style of the route the path names (generic when none).
func (s *Server) refuseDotSegment(w http.ResponseWriter, req *http.Request) {
	const msg = "the path has a dot segment (\".\" or \"..\", perhaps percent-encoded): send the path in its normal form"
	if r := s.route(req.URL.Path); r != nil {
		r.answer(w, http.StatusBadRequest, "invalid_request_error", "", msg)
		return
	}
	(&route{Route: Route{Preset: Generic}}).answer(w, http.StatusBadRequest, "invalid_request_error", "", msg)
}
