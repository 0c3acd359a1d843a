package batch

import (
	"net/http"
	"time"
)

// StallBase is stallBase, for tests that need the run's own HTTP
// transport with a test server's TLS roots.
func StallBase(pool *http.Transport, timeout time.Duration) http.RoundTripper {
	return stallBase(pool, timeout)
}
