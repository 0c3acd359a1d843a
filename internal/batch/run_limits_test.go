package batch_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/apitest"
	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/mock"
	"github.com/sluicehq/sluice/internal/storetest"
)

// An item estimated at more tokens than --tokens allows in a whole
// period was sent into debt: it ran, and every item after it waited out
// what it overdrew (max_tokens 5000 through 1000/m: five minutes). The
// library refuses it now (sluice.ErrTooLarge), and the run writes it to
// the errors file as fatal, with the numbers, and goes on at once.
func TestRunFailsAnItemTooLargeForTheTokenBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, err := mock.New(mock.Config{Style: mock.Anthropic, Seed: 11})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		var in strings.Builder
		for i, maxTokens := range []int{5, 5000, 5, 5} {
			in.WriteString(e2eMessage(fmt.Sprintf("m%d", i), maxTokens) + "\n")
		}
		begin := time.Now()
		o := e2eRun(t, batch.Config{Input: e2eWrite(t, dir, "in.jsonl", in.String()), API: "anthropic", BaseURL: "http://api.test",
			Getenv: e2eEnv("ANTHROPIC_API_KEY", "sk-ant-e2e"), Base: apitest.RoundTripper{Handler: srv},
			Limits: sluice.Limits{Tokens: sluice.PerMinute(1000)}})
		if o.code != 1 || o.sum.Succeeded != 3 || o.sum.Failed != 1 || o.sum.Stopped != nil {
			t.Fatalf("exit %d (%v), %d succeeded, %d failed, stopped %v; want exit 1, 3 and 1, not stopped\n%s",
				o.code, o.err, o.sum.Succeeded, o.sum.Failed, o.sum.Stopped, o.stderr)
		}
		if took := time.Since(begin); took > 10*time.Second {
			t.Errorf("the run took %v: the small items waited behind the large one", took)
		}
		errs := e2eLines(t, o.sum.Errors)
		if len(errs) != 1 || e2eString(t, errs[0]["custom_id"]) != "m1" {
			t.Fatalf("errors file %v, want the one line of m1", errs)
		}
		class, _, msg := e2eFailureOf(t, errs[0])
		if class != "fatal" || !strings.Contains(msg, "asks 5") || !strings.Contains(msg, "token budget of 1000/m") {
			t.Errorf("class %q, message %q; want fatal, naming the tokens asked and the budget", class, msg)
		}
		if n := srv.Stats().Requests; n != 3 {
			t.Errorf("the API got %d requests, want 3: the large item is never sent", n)
		}
	})
}

// The shared limits' outage stops the run (exit 3), whatever the store:
// the runner reads the library's class (sluice.ClassSharedUnavailable),
// not Redis's error. The items are not finished, none is failed, nothing
// is sent.
func TestRunStopsWhenTheSharedLimitsAreUnavailable(t *testing.T) {
	var hits atomic.Int32
	base := apitest.RoundTripper{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintln(w, `{}`)
	})}
	dir := t.TempDir()
	var in strings.Builder
	for i := range 20 {
		fmt.Fprintf(&in, "http://api.test/%d\n", i)
	}
	o := e2eRun(t, batch.Config{Input: e2eWrite(t, dir, "in.txt", in.String()), Base: base,
		Limits: sluice.Limits{Store: &storetest.DownStore{}}})
	checkSharedStop(t, o, dir, "in")
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

// The outage met by a retry, after a first attempt that failed: the item
// is not finished (its 500 is not its answer), not failed, and the run
// stops.
func TestRunStopsWhenTheSharedLimitsFailARetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := apitest.RoundTripper{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintln(w, `{"error":"down"}`)
		})}
		dir := t.TempDir()
		var in strings.Builder
		for i := range 4 {
			fmt.Fprintf(&in, "http://api.test/%d\n", i)
		}
		o := e2eRun(t, batch.Config{Input: e2eWrite(t, dir, "in.txt", in.String()), Base: base,
			Limits: sluice.Limits{Store: &storetest.DownStore{UpFor: 4}}})
		checkSharedStop(t, o, dir, "in")
		if o.sum.Attempts != 4 {
			t.Errorf("%d attempts, want 4: each item's first, then the retries refused", o.sum.Attempts)
		}
	})
}

// checkSharedStop checks a run stopped by the shared limits' outage.
func checkSharedStop(t *testing.T, o e2eOutcome, dir, name string) {
	t.Helper()
	if o.code != 3 || o.sum.Failed != 0 || o.sum.Succeeded != 0 {
		t.Fatalf("exit %d (%v), %d succeeded, %d failed; want exit 3, none\n%s", o.code, o.err, o.sum.Succeeded, o.sum.Failed, o.stderr)
	}
	if o.sum.Stopped == nil || !strings.Contains(o.sum.Stopped.Error(), "the shared limits (a test store) cannot be reached and --redis-mode closed; nothing more sent") {
		t.Errorf("stopped: %v; want the store's words", o.sum.Stopped)
	}
	if data, err := os.ReadFile(filepath.Join(dir, name+".errors.jsonl")); err == nil && len(data) > 0 {
		t.Errorf("errors file:\n%s", data)
	}
}
