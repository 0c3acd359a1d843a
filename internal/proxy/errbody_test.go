package proxy_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/proxy"
)

// An upstream answering 500 with an endless body costs the proxy no
// memory for it: the attempt it retries is read only a little (the
// library's Transport reads 64 KiB to classify it and drains 64 KiB more
// before closing it), and the last one streams to the client, which
// reads 1 MiB and leaves; the heap stays flat and the upstream's writes
// fail soon after.
func TestHugeErrorBodyHeldBounded(t *testing.T) {
	chunk := bytes.Repeat([]byte("e"), 64<<10)
	var attempts atomic.Int32
	var written [2]atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := min(int(attempts.Add(1)), 2) - 1
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusInternalServerError)
		for written[n].Load() < 1<<30 { // 1 GiB at most, should the proxy read on
			k, err := w.Write(chunk)
			written[n].Add(int64(k))
			if err != nil {
				return
			}
		}
	}))
	p := startProxy(t, proxy.Route{Upstream: mustURL(t, up.URL),
		Retry: sluice.RetryPolicy{MaxAttempts: 2, Backoff: sluice.Backoff{Base: time.Millisecond}}})

	stop := apitest.HeapPeak()
	resp, err := http.Get(p.URL() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.CopyN(io.Discard, resp.Body, 1<<20)
	resp.Body.Close()
	peak := stop()
	up.Close() // the handlers have returned
	if resp.StatusCode != 500 || got != 1<<20 || attempts.Load() != 2 {
		t.Fatalf("got %d with %d bytes read after %d attempts; want 500, 1 MiB, 2", resp.StatusCode, got, attempts.Load())
	}
	t.Logf("peak heap growth %.1f MiB; upstream wrote %.1f MiB (retried) and %.1f MiB (last)",
		float64(peak)/(1<<20), float64(written[0].Load())/(1<<20), float64(written[1].Load())/(1<<20))
	if peak > 16<<20 {
		t.Errorf("peak heap growth %d MiB; want under 16 MiB", peak>>20)
	}
	for i := range written {
		if n := written[i].Load(); n > 64<<20 {
			t.Errorf("attempt %d: the upstream wrote %d MiB; want it cut off within a few MiB", i+1, n>>20)
		}
	}
}
