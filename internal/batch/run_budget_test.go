package batch_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/mock"
)

// Issue 9: with 30% injected 5xx, `sluice run` with the default retries
// failed dozens of items after one attempt because the retry budget refused
// their retries. A batch's retries wait for the budget instead: every item
// succeeds, none after a single failed attempt.
func TestRunRetriesNeverDropWorkAgainstAFlakyAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 300 items at 150/s with backoffs in real time")
	}
	srv := e2eMock(t, mock.Config{Fail: 0.3, Seed: 9})
	dir := t.TempDir()
	var urls strings.Builder
	for i := range 300 {
		fmt.Fprintf(&urls, "/item/%d\n", i)
	}
	in := e2eWrite(t, dir, "urls.txt", urls.String())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	begin := time.Now()
	o := e2eRunCtx(t, ctx, batch.Config{Input: in, BaseURL: srv.URL(), Limits: sluice.Limits{Rate: sluice.PerSecond(150)}})
	took := time.Since(begin)
	st := srv.Stats()
	t.Logf("300 items at 150/s, 30%% failing: %v, %d attempts, %d waited for the budget; the mock saw %d requests",
		took.Round(time.Millisecond), o.sum.Attempts, o.sum.BudgetWaits, st.Requests)
	if o.err != nil || o.code != 0 {
		t.Fatalf("Run: exit %d, %v\nstderr: %s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, 300, 0, 300, 0, 0)
	if o.sum.Attempts <= 300 {
		t.Errorf("%d attempts for 300 items against an API failing 30%% of calls: the faults were not injected", o.sum.Attempts)
	}
	if errs := e2eLinesIfAny(t, filepath.Join(dir, "urls.errors.jsonl")); len(errs) != 0 {
		t.Errorf("%d items failed, the first %s", len(errs), errs[0])
	}
}

// e2eLinesIfAny is e2eLines for a file that need not exist.
func e2eLinesIfAny(t *testing.T, path string) []string {
	t.Helper()
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var out []string
	for _, l := range e2eLines(t, path) {
		out = append(out, fmt.Sprint(l))
	}
	return out
}
