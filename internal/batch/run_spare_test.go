package batch_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/batch"
)

// flakyBase answers the first attempts of items 0 to 3 500 at once, and
// every other attempt 200 after 10 ms.
type flakyBase struct {
	mu    sync.Mutex
	tried map[string]bool
}

func (b *flakyBase) RoundTrip(req *http.Request) (*http.Response, error) {
	var i int
	fmt.Sscanf(req.URL.Path, "/%d", &i)
	b.mu.Lock()
	first := !b.tried[req.URL.Path]
	b.tried[req.URL.Path] = true
	b.mu.Unlock()
	status := http.StatusOK
	if i < 4 && first {
		status = http.StatusInternalServerError
	} else {
		time.Sleep(10 * time.Millisecond)
	}
	return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{}`)), Request: req}, nil
}

// TestRunBackoffLeavesNoSlotIdle protects the runner's workers (one a
// slot, as sluice.Pool runs them, plus a spare while an item waits
// between attempts): an item backing off must not keep its slot idle.
// The first four items fail at once and back off (up to 500 ms each,
// the default backoff's first); the 196 others, 10 ms each, keep the 4
// slots busy meanwhile, so the run takes the 500 ms of work and a few
// ms more. Were the slots idle while their items backed off, it would
// take some 250 ms more (the backoffs' mean).
func TestRunBackoffLeavesNoSlotIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		in := filepath.Join(dir, "urls.txt")
		var urls strings.Builder
		for i := range 200 {
			fmt.Fprintf(&urls, "http://api.test/%d\n", i)
		}
		if err := os.WriteFile(in, []byte(urls.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := batch.Config{
			Input: in, Progress: "none", Stdout: io.Discard, Stderr: &bytes.Buffer{},
			Getenv: func(string) string { return "" }, Base: &flakyBase{tried: map[string]bool{}},
		}
		cfg.Limits.Concurrency = 4
		begin := time.Now()
		sum, err := batch.Run(context.Background(), cfg)
		took := time.Since(begin)
		if err != nil || sum.Succeeded != 200 || sum.Failed != 0 || sum.Retries != 4 {
			t.Fatalf("Run: %d succeeded, %d failed, %d retries, %v; want 200, 0, 4", sum.Succeeded, sum.Failed, sum.Retries, err)
		}
		if took > 530*time.Millisecond {
			t.Errorf("the run took %v, want about 500 ms: slots idled while their items backed off", took)
		}
	})
}
