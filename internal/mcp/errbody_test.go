package mcp

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
)

// The body cap applies to error answers as to successes: an API that
// answers 404 or 500 with an endless body has its first MaxBody bytes
// kept, the item says truncated, and the rest is not read (the server
// sees its writes fail once the connection is closed).
func TestBodyCapAppliesToErrorBodies(t *testing.T) {
	chunk := bytes.Repeat([]byte("e"), 64<<10)
	var written atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		status := http.StatusNotFound
		if strings.HasSuffix(r.URL.Path, "/500") {
			status = http.StatusInternalServerError
		}
		w.WriteHeader(status)
		for written.Load() < 1<<30 { // 1 GiB at most, should the client read on
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	_, cs := session(t, Config{AllowPrivate: true, MaxBody: 3000, Retry: sluice.RetryPolicy{MaxAttempts: 1}}, nil)
	rep, _ := callTool(t, cs, "fetch_many", map[string]any{"urls": []string{api.URL + "/404", api.URL + "/500"}, "max_length": 100000})
	for _, it := range rep.Items {
		if it.OK || !it.Truncated || it.Size != 3000 || it.Text != strings.Repeat("e", 3000) {
			t.Errorf("%s: ok %v truncated %v size %d text %d bytes; want false true 3000 3000", it.URL, it.OK, it.Truncated, it.Size, len(it.Text))
		}
	}
	api.Close() // the handlers have returned
	if n := written.Load(); n > 64<<20 {
		t.Errorf("the server wrote %d MiB of error bodies; want them cut off near the cap", n>>20)
	}
}
