package proxy

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzDotSegment: dotSegment never panics, and a path it lets through has
// no dot segment however many times (up to maxUnescape) a server decodes
// it, with backslashes read as slashes.
func FuzzDotSegment(f *testing.F) {
	for _, s := range []string{"/api/../x", "/api/%2e%2e/x", "/api/..%5cx", "/v1/messages", "/a..b", "/%252e%252e/", "/%zz/..", "/x;p/..;/y", "?../.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		if dotSegment(target) {
			return
		}
		p, _, _ := strings.Cut(target, "?")
		for range maxUnescape + 1 {
			for _, seg := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
				seg, _, _ = strings.Cut(seg, ";")
				if seg == "." || seg == ".." {
					t.Fatalf("dotSegment(%q) = false, but %q has the segment %q", target, p, seg)
				}
			}
			d, err := url.PathUnescape(p)
			if err != nil {
				return
			}
			p = d
		}
	})
}
