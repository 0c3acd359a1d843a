package batch_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/batch"
)

// An API that said "come back in an hour" (Retry-After: 3600) was asked
// again at the end of every --max-retry-wait pause, nine times an item,
// and the items failed as throttled: the behaviour that gets keys flagged
// (outside review). The run stops at the first such answer, exit 3, the
// items left for the next run, none failed.
func TestRunStopsWhenTheAPIAsksToWaitLongerThanAllowed(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"error":{"message":"come back later"}}`))
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	o := e2eRun(t, batch.Config{Input: e2eHTTPFile(t, dir, []string{"a", "b", "c", "d", "e"}), BaseURL: srv.URL,
		Limits: sluice.Limits{Concurrency: 1, FixedConcurrency: true}, MaxRetryWait: 2 * time.Second})
	if o.code != 3 || o.sum.Stopped == nil || !strings.Contains(o.sum.Stopped.Error(), "asks to wait 1h0m0s, more than --max-retry-wait 2s") {
		t.Fatalf("exit %d, stopped %v; want 3, stopped, naming the wait and the cap\n%s", o.code, o.sum.Stopped, o.stderr)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the API was called %d times; want once", n)
	}
	if o.sum.Failed != 0 || o.sum.NotStarted != 5 {
		t.Errorf("failed %d, not started %d; want 0 and 5, left for the next run", o.sum.Failed, o.sum.NotStarted)
	}
	if _, err := os.Stat(filepath.Join(dir, "items.errors.jsonl")); err == nil {
		t.Error("an errors file was written; want none: nothing failed")
	}
}
