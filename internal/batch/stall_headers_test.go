package batch

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestPlainConnectionTimesTheHeaders protects the wait for the headers
// over HTTP/1 in the clear, which the connection times rather than a
// timer of net/http's per request (stall.go): a server that never answers
// fails the call as a header timeout, no sooner than the timeout; one that
// answers at once, then sends its body slower than the timeout but never
// idle for it, gets it through whole; and the connection serves the next
// call.
func TestPlainConnectionTimesTheHeaders(t *testing.T) {
	const timeout = 100 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/never":
			<-r.Context().Done()
		case "/dribbles":
			w.WriteHeader(200)
			for range 4 { // 120ms in all, never idle for more than 30ms
				w.(http.Flusher).Flush()
				time.Sleep(timeout * 3 / 10)
				io.WriteString(w, "chunk ")
			}
		default:
			io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	base := stallBase(sluice.Limits{}.HTTPTransport(), timeout)
	defer base.CloseIdleConnections()
	if base.plain.ResponseHeaderTimeout != 0 {
		t.Errorf("the plain transport's ResponseHeaderTimeout is %v: net/http times each call again", base.plain.ResponseHeaderTimeout)
	}
	get := func(path string) (string, time.Duration, error) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		begin := time.Now()
		resp, err := base.RoundTrip(req)
		if err != nil {
			return "", time.Since(begin), err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), time.Since(begin), err
	}
	if body, _, err := get("/ok"); body != "ok" || err != nil {
		t.Fatalf("GET /ok = %q, %v", body, err)
	}
	_, took, err := get("/never")
	if !errors.Is(err, errHeadersLate) || !strings.HasSuffix(err.Error(), "timeout awaiting response headers") || took < timeout {
		t.Errorf("GET /never: %v after %v; want the headers' timeout, after %v at least", err, took, timeout)
	}
	if body, _, err := get("/dribbles"); body != "chunk chunk chunk chunk " || err != nil {
		t.Errorf("GET /dribbles = %q, %v; want 4 chunks, slower in all than the timeout but never idle for it", body, err)
	}
	if body, _, err := get("/ok"); body != "ok" || err != nil {
		t.Errorf("GET /ok after the dribble = %q, %v", body, err)
	}
}
