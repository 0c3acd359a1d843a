// Package credential says which request headers may carry a credential,
// so that the faces that follow redirects (sluice run, sluice mcp) send
// none of them on to another host.
//
// A fixed list of names is never complete: APIs invent their own
// (X-Goog-Api-Key, Anthropic-Api-Key, X-Auth-Token, Private-Token), and a
// key handed to whatever host a redirect names is a key lost. So a name
// is judged by the words in it; a header wrongly taken for a credential
// is only left off a request to a host it was not written for.
package credential

import (
	"net/http"
	"strings"
)

// words are the parts of a header name that make it a credential's.
var words = []string{"auth", "token", "key", "secret", "cookie", "session", "password", "passwd", "credential", "signature"}

// IsCredential reports whether a header of this name may carry a
// credential: Authorization, Cookie, every *-Api-Key, *-Token, and the
// like, in any case.
func IsCredential(name string) bool {
	lower := strings.ToLower(name)
	for _, w := range words {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

// StripForeign removes from h, the header of a request redirected to
// another host, every header that may carry a credential, and the
// Referer, which names the URL redirected from, query and all (where
// tokens travel too).
func StripForeign(h http.Header) {
	for name := range h {
		if IsCredential(name) || strings.EqualFold(name, "Referer") {
			delete(h, name)
		}
	}
}
