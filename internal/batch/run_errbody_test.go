package batch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/internal/apitest"

	"github.com/sluicehq/sluice/internal/batch"
)

// hugeErrorAPI answers every request 500 with a body of size bytes that
// it makes as it is read, counting the bytes read and the bodies closed.
type hugeErrorAPI struct {
	size          int64
	contentLength bool
	read, closed  *atomic.Int64
}

func (a hugeErrorAPI) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	cl := int64(-1)
	if a.contentLength {
		cl = a.size
	}
	b := &countedBody{r: &bigBody{size: a.size}, read: a.read, closed: a.closed}
	return &http.Response{StatusCode: 500, Header: http.Header{"Content-Type": {"text/plain"}}, Body: b, ContentLength: cl, Request: req}, nil
}

type countedBody struct {
	r            io.Reader
	read, closed *atomic.Int64
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (b *countedBody) Close() error { b.closed.Add(1); return nil }

// TestRunErrorBodyKeptBounded protects the runner from an API that
// answers with a huge error body: what is kept of it for the errors file
// is its first 64 KiB, the errors line says it was cut, the rest is
// drained only a little before the body is closed, and the heap does not
// grow with the body (1 GiB each, through 8 workers).
func TestRunErrorBodyKeptBounded(t *testing.T) {
	const items, workers, size = 16, 8, 1 << 30
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	for _, cl := range []bool{true, false} {
		t.Run(fmt.Sprintf("content-length %v", cl), func(t *testing.T) {
			dir := t.TempDir()
			input := postLines(t, dir, items, `{"id":"r%d","method":"POST","url":"/v1/x/%d","body":{"n":%d}}`)
			out := filepath.Join(dir, "out.jsonl")
			var read, closed atomic.Int64
			api := hugeErrorAPI{size: size, contentLength: cl, read: &read, closed: &closed}
			cfg := batch.Config{Input: input, Out: out, BaseURL: "http://api.example", Progress: "none", Base: api, Retries: -1,
				Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
			cfg.Limits.Concurrency = workers
			stop := apitest.HeapPeak()
			sum, err := batch.Run(context.Background(), cfg)
			peak := stop()
			if err != nil || sum.Failed != items {
				t.Fatalf("Run: %d failed, %v; want %d failed", sum.Failed, err, items)
			}
			t.Logf("peak heap growth %.1f MiB, %.1f MiB read of %d error bodies of %d MiB through %d workers",
				float64(peak)/(1<<20), float64(read.Load())/(1<<20), items, size>>20, workers)
			if limit := uint64(16 << 20); peak > limit {
				t.Errorf("peak heap growth %d MiB; want under %d MiB", peak>>20, limit>>20)
			}
			if got, limit := read.Load(), int64(items*(1<<20)); got > limit {
				t.Errorf("%d MiB of the error bodies read; want at most 1 MiB each", got>>20)
			}
			if got := closed.Load(); got != items {
				t.Errorf("%d bodies closed; want %d", got, items)
			}
			data, err := os.ReadFile(filepath.Join(dir, "out.errors.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
			if len(lines) != items {
				t.Fatalf("%d errors lines; want %d", len(lines), items)
			}
			var want bytes.Buffer
			io.CopyN(&want, &bigBody{size: size}, 64<<10)
			for _, line := range lines {
				var e struct {
					Status        int    `json:"status"`
					Message       string `json:"message"`
					Body          string `json:"body"`
					BodyBase64    []byte `json:"body_base64"` // encoding/json decodes base64 into []byte
					BodyTruncated bool   `json:"body_truncated"`
				}
				if err := json.Unmarshal(line, &e); err != nil {
					t.Fatalf("errors line %.200q: %v", line, err)
				}
				if e.Status != 500 || !e.BodyTruncated || !strings.Contains(e.Message, "the first 64 KiB of the error body are kept") {
					t.Errorf("errors line: status %d, body_truncated %v, message %q; want 500, true and a message saying the body was cut", e.Status, e.BodyTruncated, e.Message)
				}
				// The body is text with bytes that are not UTF-8: it comes
				// as body_base64, its first 64 KiB byte for byte (less the
				// start of a character the cut split).
				if w := want.Bytes(); e.Body != "" || !bytes.HasPrefix(w, e.BodyBase64) || len(e.BodyBase64) < len(w)-4 {
					t.Errorf("errors line's body: %q, body_base64 of %d bytes, %.40q...; want the body's first 64 KiB as body_base64", e.Body, len(e.BodyBase64), e.BodyBase64)
				}
			}
		})
	}
}
