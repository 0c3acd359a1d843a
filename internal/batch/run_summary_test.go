package batch_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/batch"
)

// After an interrupt, every item of the input is accounted for:
// not finished + succeeded + failed == the items in the file. Items never
// read from the input count as not finished (they were left out, giving
// "12 not started" when 174 were left), and so do items waiting to retry
// when the interrupt came (they were counted as failed).
func TestRunInterruptCountsEveryItemNotFinished(t *testing.T) {
	// Every item's first attempt is refused with a Retry-After, so that
	// items are waiting to retry when the interrupt comes.
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		again := seen[r.URL.Path]
		seen[r.URL.Path] = true
		mu.Unlock()
		if !again {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error": {"message": "busy, come back"}}`)
			return
		}
		fmt.Fprint(w, `{"ok": true}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	const total = 600
	ids := e2eNames("n", total)
	cfg := batch.Config{Input: e2eHTTPFile(t, dir, ids), BaseURL: srv.URL, Limits: sluice.Limits{Concurrency: 4, FixedConcurrency: true}}
	results := filepath.Join(dir, "items.results.jsonl")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if b, _ := os.ReadFile(results); strings.Count(string(b), "\n") >= 4 {
				cancel()
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	o := e2eRunCtx(t, ctx, cfg)
	s := o.sum
	t.Logf("%d items, %d succeeded, %d failed, %d not finished, %d retries", s.Items, s.Succeeded, s.Failed, s.NotStarted, s.Retries)
	if o.code != 3 || o.err != nil || s.Stopped == nil {
		t.Fatalf("exit %d, %v, stopped %v; want 3, nil, interrupted\n%s", o.code, o.err, s.Stopped, o.stderr)
	}
	if s.Items != total || s.NotStarted+s.Succeeded+s.Failed != total {
		t.Errorf("items %d, not finished %d + succeeded %d + failed %d = %d; want %d items, all accounted for",
			s.Items, s.NotStarted, s.Succeeded, s.Failed, s.NotStarted+s.Succeeded+s.Failed, total)
	}
	if s.Failed != 0 {
		t.Errorf("%d failed: items waiting to retry at the interrupt are not finished, not failed", s.Failed)
	}
	if s.Succeeded == 0 || s.Succeeded >= total {
		t.Errorf("%d succeeded; want some, not all", s.Succeeded)
	}
	var sum strings.Builder
	batch.WriteSummary(&sum, s)
	if want := fmt.Sprintf("%d not finished", total-s.Succeeded); !strings.Contains(sum.String(), want) {
		t.Errorf("summary does not say %q:\n%s", want, sum.String())
	}
}

// The summary lists why items failed: the five most frequent reasons,
// each with its count and the message of one item, and how many failed
// otherwise.
func TestRunSummaryTopFiveReasons(t *testing.T) {
	statuses := []struct {
		status, n int
	}{{400, 6}, {401, 5}, {403, 4}, {404, 3}, {405, 2}, {422, 1}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var status int
		var id string
		fmt.Sscanf(strings.TrimPrefix(r.URL.Path, "/item/"), "%d-%s", &status, &id)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error": {"message": "refused with %d"}}`, status)
	}))
	defer srv.Close()
	var ids []string
	for _, s := range statuses {
		for i := range s.n {
			ids = append(ids, fmt.Sprintf("%d-%d", s.status, i))
		}
	}
	// KeepGoing: the first calls all fail alike, which would stop the run.
	o := e2eRun(t, batch.Config{Input: e2eHTTPFile(t, t.TempDir(), ids), BaseURL: srv.URL, Limits: limitsC(1), KeepGoing: true})
	if o.code != 1 || o.sum.Failed != len(ids) {
		t.Fatalf("exit %d (%v), %d failed; want 1, %d", o.code, o.err, o.sum.Failed, len(ids))
	}
	want := []batch.FailureReason{
		{Reason: "fatal (HTTP 400)", Count: 6, Example: "refused with 400"},
		{Reason: "fatal (HTTP 401)", Count: 5, Example: "refused with 401"},
		{Reason: "fatal (HTTP 403)", Count: 4, Example: "refused with 403"},
		{Reason: "fatal (HTTP 404)", Count: 3, Example: "refused with 404"},
		{Reason: "fatal (HTTP 405)", Count: 2, Example: "refused with 405"},
	}
	if got := o.sum.Reasons; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reasons\n%v\nwant\n%v", got, want)
	}
	var b strings.Builder
	batch.WriteSummary(&b, o.sum)
	for _, line := range []string{
		"sluice: 0 succeeded, 21 failed, 0 bad lines, 0 skipped (done before), 0 not finished\n",
		"sluice: failed because:\n",
		"       6  fatal (HTTP 400): refused with 400\n",
		"       2  fatal (HTTP 405): refused with 405\n",
		"       1  other reasons (see the errors file)\n",
		"sluice: 21 attempts (0 retries); 0 answered 429; 0 pauses asked by the API\n",
		", failures in " + o.sum.Errors + "\n",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("summary lacks %q:\n%s", line, b.String())
		}
	}
}

// Failures of one class and status with different messages are counted
// together, and the summary says how many said something other than the
// example it shows (outside review: two different 400s were listed under
// the first one's message).
func TestRunSummarySaysWhenMessagesDiffer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		msg := "model not found"
		if strings.HasPrefix(r.URL.Path, "/item/param") {
			msg = "max_tokens too large"
		}
		fmt.Fprintf(w, `{"error": {"message": %q}}`, msg)
	}))
	defer srv.Close()
	ids := []string{"model-1", "model-2", "model-3", "param-1", "param-2"}
	o := e2eRun(t, batch.Config{Input: e2eHTTPFile(t, t.TempDir(), ids), BaseURL: srv.URL, Limits: limitsC(1), KeepGoing: true})
	if len(o.sum.Reasons) != 1 {
		t.Fatalf("reasons %v, want one (HTTP 400)", o.sum.Reasons)
	}
	r := o.sum.Reasons[0]
	if r.Count != 5 || r.Others != 2 || r.Example != "model not found" {
		t.Errorf("reason %+v, want 5 counted, the example the first message, 2 others", r)
	}
	var b strings.Builder
	batch.WriteSummary(&b, o.sum)
	if want := "       5  fatal (HTTP 400): model not found (2 of them with other messages)\n"; !strings.Contains(b.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, b.String())
	}
}

// The summary counts retries, the retries that waited for the retry
// budget, the 429s and the pauses, and says where the results went.
func TestWriteSummary(t *testing.T) {
	s := batch.Summary{Items: 600, Succeeded: 590, Failed: 2, NotStarted: 8, BadLines: 1, Resumed: 40,
		Attempts: 900, Retries: 308, BudgetWaits: 17, Throttled: 290, Pauses: 3, InputTokens: 1200, OutputTokens: 340,
		Elapsed: 20 * time.Second, Stopped: fmt.Errorf("interrupted"), Results: "b.results.jsonl", Errors: "b.errors.jsonl",
		Reasons: []batch.FailureReason{{Reason: "transient", Count: 2, Example: "Get \"http://x/1\": connection refused"}}}
	want := `sluice: 590 succeeded, 2 failed, 1 bad lines, 40 skipped (done before), 8 not finished
sluice: failed because:
       2  transient: Get "http://x/1": connection refused
sluice: 900 attempts (308 retries); 290 answered 429; 3 pauses asked by the API
sluice: 17 retries waited for the retry budget (the API failed many calls)
sluice: tokens: 1200 in, 340 out
sluice: 29.6 items/s over 20s
sluice: stopped early: interrupted; run the same command again to go on
sluice: results in b.results.jsonl, failures in b.errors.jsonl
`
	var b strings.Builder
	batch.WriteSummary(&b, s)
	if got := b.String(); got != want {
		t.Errorf("WriteSummary =\n%s\nwant\n%s", got, want)
	}
}
