package batch_test

// End-to-end tests of what a run leaves behind and how the next run goes
// on from it: resume, retrying failures, restart, a torn last line, an
// exhausted quota, an interrupt, and ordered output.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/mock"
)

// e2eHTTPFile writes an http input of ids, each a GET of /item/<id>
// relative to the base URL, and returns its path.
func e2eHTTPFile(t *testing.T, dir string, ids []string) string {
	t.Helper()
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, `{"id": %q, "url": "/item/%s"}`+"\n", id, id)
	}
	return e2eWrite(t, dir, "items.jsonl", b.String())
}

func TestRunResumeSkipsWhatSucceeded(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 11})
	dir := t.TempDir()
	ids := e2eNames("r", 40)
	in := e2eHTTPFile(t, dir, ids)
	cfg := batch.Config{Input: in, BaseURL: srv.URL(), Limits: limitsC(8)}

	first := e2eRun(t, cfg)
	if first.code != 0 || first.err != nil {
		t.Fatalf("first run: exit %d, %v\n%s", first.code, first.err, first.stderr)
	}
	e2eCheckSummary(t, first.sum, 40, 0, 40, 0, 0)
	before, err := os.ReadFile(first.sum.Results)
	if err != nil {
		t.Fatal(err)
	}

	second := e2eRun(t, cfg)
	if second.code != 0 || second.err != nil {
		t.Fatalf("second run: exit %d, %v\n%s", second.code, second.err, second.stderr)
	}
	e2eCheckSummary(t, second.sum, 0, 40, 0, 0, 0)
	if second.sum.Attempts != 0 {
		t.Errorf("second run made %d attempts, want 0", second.sum.Attempts)
	}
	if st := srv.Stats(); st.Requests != 40 {
		t.Errorf("mock saw %d requests over both runs, want 40", st.Requests)
	}
	after, err := os.ReadFile(second.sum.Results)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Errorf("the second run changed the results file")
	}
	e2eSameSet(t, "results", e2eIDs(t, e2eLines(t, second.sum.Results), "id"), ids)
}

func TestRunRestartStartsOver(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 12})
	dir := t.TempDir()
	ids := e2eNames("s", 25)
	cfg := batch.Config{Input: e2eHTTPFile(t, dir, ids), BaseURL: srv.URL()}
	if o := e2eRun(t, cfg); o.code != 0 {
		t.Fatalf("first run: exit %d, %v", o.code, o.err)
	}
	cfg.Restart = true
	o := e2eRun(t, cfg)
	if o.code != 0 || o.err != nil {
		t.Fatalf("restart: exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, 25, 0, 25, 0, 0)
	if st := srv.Stats(); st.Requests != 50 {
		t.Errorf("mock saw %d requests, want 50: all 25 twice", st.Requests)
	}
	lines := e2eLines(t, o.sum.Results)
	if len(lines) != 25 {
		t.Errorf("results file has %d lines after --restart, want 25", len(lines))
	}
	e2eSameSet(t, "results", e2eIDs(t, lines, "id"), ids)
}

// e2eFlaky is an API that fails some ids, with a given status, while
// failing is set, and counts the requests for each id.
type e2eFlaky struct {
	srv     *httptest.Server
	failing atomic.Bool
	fail    map[string]int // id: status
	mu      sync.Mutex
	hits    map[string]int
}

func newE2EFlaky(t *testing.T, fail map[string]int) *e2eFlaky {
	f := &e2eFlaky{fail: fail, hits: map[string]int{}}
	f.failing.Store(true)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/item/")
		f.mu.Lock()
		f.hits[id]++
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if status, ok := f.fail[id]; ok && f.failing.Load() {
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error": {"message": "item %s refused", "type": "e2e_error"}}`, id)
			return
		}
		fmt.Fprintf(w, `{"ok": %q}`, id)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *e2eFlaky) hitsOf(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[id]
}

func TestRunRerunRetriesOnlyTheFailed(t *testing.T) {
	fail := map[string]int{"f003": 404, "f010": 503, "f022": 500, "f030": 400}
	api := newE2EFlaky(t, fail)
	dir := t.TempDir()
	ids := e2eNames("f", 30)
	cfg := batch.Config{Input: e2eHTTPFile(t, dir, ids), BaseURL: api.srv.URL, Retries: -1, Limits: limitsC(4)}

	first := e2eRun(t, cfg)
	if first.code != 1 || first.err != nil {
		t.Fatalf("first run: exit %d, %v; want 1, nil\n%s", first.code, first.err, first.stderr)
	}
	e2eCheckSummary(t, first.sum, 30, 0, 26, 4, 0)
	if first.sum.Attempts != 30 {
		t.Errorf("attempts %d with retries off, want 30", first.sum.Attempts)
	}
	var ok []string
	for _, id := range ids {
		if _, bad := fail[id]; !bad {
			ok = append(ok, id)
		}
	}
	e2eSameSet(t, "results after the first run", e2eIDs(t, e2eLines(t, first.sum.Results), "id"), ok)

	// The errors file names each failure: id, line, class, status, the
	// API's message and the attempts.
	wantClass := map[int]string{404: "fatal", 400: "fatal", 503: "overloaded", 500: "transient"}
	errs := e2eLines(t, first.sum.Errors)
	if len(errs) != 4 {
		t.Fatalf("errors file has %d lines, want 4", len(errs))
	}
	for _, l := range errs {
		if got, want := e2eKeys(l), []string{"attempts", "body", "class", "id", "line", "message", "status"}; !slices.Equal(got, want) {
			t.Fatalf("errors line has members %v, want %v", got, want)
		}
		id := e2eID(t, l["id"])
		status, ok := fail[id]
		if !ok {
			t.Fatalf("errors file names %s, which did not fail", id)
		}
		line := slices.Index(ids, id) + 1
		if got := e2eInt(t, l["line"]); got != int64(line) {
			t.Errorf("%s: line %d, want %d", id, got, line)
		}
		if got := e2eInt(t, l["status"]); got != int64(status) {
			t.Errorf("%s: status %d, want %d", id, got, status)
		}
		if got := e2eString(t, l["class"]); got != wantClass[status] {
			t.Errorf("%s: class %q, want %q", id, got, wantClass[status])
		}
		if got, want := e2eString(t, l["message"]), "item "+id+" refused"; !strings.Contains(got, want) {
			t.Errorf("%s: message %q, want the API's %q", id, got, want)
		}
		if got := e2eInt(t, l["attempts"]); got != 1 {
			t.Errorf("%s: attempts %d, want 1", id, got)
		}
	}

	// Still failing: the errors file describes this run only.
	again := e2eRun(t, cfg)
	if again.code != 1 {
		t.Fatalf("second run: exit %d, %v; want 1", again.code, again.err)
	}
	e2eCheckSummary(t, again.sum, 4, 26, 0, 4, 0)
	if n := len(e2eLines(t, again.sum.Errors)); n != 4 {
		t.Errorf("errors file has %d lines after the second run, want 4: it is rewritten, not appended to", n)
	}

	api.failing.Store(false)
	second := e2eRun(t, cfg)
	if second.code != 0 || second.err != nil {
		t.Fatalf("second run: exit %d, %v\n%s", second.code, second.err, second.stderr)
	}
	e2eCheckSummary(t, second.sum, 4, 26, 4, 0, 0)
	for _, id := range ids {
		want := 1
		if _, bad := fail[id]; bad {
			want = 3
		}
		if got := api.hitsOf(id); got != want {
			t.Errorf("%s was requested %d times over the three runs, want %d", id, got, want)
		}
	}
	e2eSameSet(t, "results after the rerun", e2eIDs(t, e2eLines(t, second.sum.Results), "id"), ids)
	if errs := e2eLinesIfAny(t, second.sum.Errors); len(errs) != 0 {
		t.Errorf("errors file has %d lines after a clean rerun, want none", len(errs))
	}
}

// Failures injected by the mock, not retried, are retried by the next run,
// even against another server: relative URLs follow the base URL.
func TestRunRerunAfterInjectedFailures(t *testing.T) {
	flaky := e2eMock(t, mock.Config{Fail: 0.3, Seed: 13})
	dir := t.TempDir()
	ids := e2eNames("j", 60)
	cfg := batch.Config{Input: e2eHTTPFile(t, dir, ids), BaseURL: flaky.URL(), Retries: -1, Limits: limitsC(6)}

	first := e2eRun(t, cfg)
	st := flaky.Stats()
	if first.code != 1 || first.err != nil {
		t.Fatalf("first run: exit %d, %v; want 1\n%s", first.code, first.err, first.stderr)
	}
	if st.Failed == 0 || int64(first.sum.Failed) != st.Failed || int64(first.sum.Succeeded) != st.Accepted || first.sum.Items != 60 {
		t.Fatalf("first run: %d items, %d succeeded, %d failed; the mock accepted %d and failed %d (want some)",
			first.sum.Items, first.sum.Succeeded, first.sum.Failed, st.Accepted, st.Failed)
	}
	if n := len(e2eLines(t, first.sum.Errors)); n != first.sum.Failed {
		t.Errorf("errors file has %d lines, want %d", n, first.sum.Failed)
	}
	if n := len(e2eLines(t, first.sum.Results)); n != first.sum.Succeeded {
		t.Errorf("results file has %d lines, want %d", n, first.sum.Succeeded)
	}

	healthy := e2eMock(t, mock.Config{Seed: 14})
	cfg.BaseURL = healthy.URL()
	second := e2eRun(t, cfg)
	if second.code != 0 || second.err != nil {
		t.Fatalf("second run: exit %d, %v\n%s", second.code, second.err, second.stderr)
	}
	e2eCheckSummary(t, second.sum, first.sum.Failed, first.sum.Succeeded, first.sum.Failed, 0, 0)
	if got := healthy.Stats().Requests; got != int64(first.sum.Failed) {
		t.Errorf("the rerun sent %d requests, want %d (the failed only)", got, first.sum.Failed)
	}
	e2eSameSet(t, "results after the rerun", e2eIDs(t, e2eLines(t, second.sum.Results), "id"), ids)
}

// Transient failures are retried within the run, each retry counted.
func TestRunRetriesTransientFailures(t *testing.T) {
	srv := e2eMock(t, mock.Config{Fail: 0.1, Seed: 15})
	dir := t.TempDir()
	ids := e2eNames("t", 40)
	o := e2eRun(t, batch.Config{Input: e2eHTTPFile(t, dir, ids), BaseURL: srv.URL(), Limits: limitsC(4)})
	if o.code != 0 || o.err != nil {
		t.Fatalf("Run: exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, 40, 0, 40, 0, 0)
	st := srv.Stats()
	if st.Failed == 0 {
		t.Fatalf("the mock injected no failure: the test proves nothing")
	}
	if o.sum.Attempts != st.Requests || st.Requests != 40+st.Failed {
		t.Errorf("attempts %d; the mock saw %d requests, %d failed", o.sum.Attempts, st.Requests, st.Failed)
	}
	var sum int64
	for _, l := range e2eLines(t, o.sum.Results) {
		sum += e2eInt(t, l["attempts"])
	}
	if sum != st.Requests {
		t.Errorf("the results lines' attempts add up to %d, the mock saw %d requests", sum, st.Requests)
	}
}

func TestRunRepairsTornLastLine(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 16})
	dir := t.TempDir()
	ids := e2eNames("k", 10)
	cfg := batch.Config{Input: e2eHTTPFile(t, dir, ids), BaseURL: srv.URL()}
	first := e2eRun(t, cfg)
	if first.code != 0 {
		t.Fatalf("first run: exit %d, %v", first.code, first.err)
	}

	// Tear the last line as a kill in the middle of its write would.
	lines := e2eLines(t, first.sum.Results)
	torn := e2eID(t, lines[len(lines)-1]["id"])
	b, err := os.ReadFile(first.sum.Results)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(first.sum.Results, b[:len(b)-12], 0o644); err != nil {
		t.Fatal(err)
	}
	second := e2eRun(t, cfg)
	if second.code != 0 || second.err != nil {
		t.Fatalf("second run: exit %d, %v\n%s", second.code, second.err, second.stderr)
	}
	e2eCheckSummary(t, second.sum, 1, 9, 1, 0, 0)
	after := e2eLines(t, second.sum.Results)
	e2eSameSet(t, "results after the repair", e2eIDs(t, after, "id"), ids)
	if got := e2eID(t, after[len(after)-1]["id"]); got != torn {
		t.Errorf("the rerun wrote %s, want the torn item %s", got, torn)
	}
	if st := srv.Stats(); st.Requests != 11 {
		t.Errorf("mock saw %d requests, want 11: ten, then the torn one again", st.Requests)
	}

	// A torn line that is not even an item's is cut too.
	f, err := os.OpenFile(second.sum.Results, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id": "k0`)
	f.Close()
	third := e2eRun(t, cfg)
	if third.code != 0 || third.err != nil {
		t.Fatalf("third run: exit %d, %v\n%s", third.code, third.err, third.stderr)
	}
	e2eCheckSummary(t, third.sum, 0, 10, 0, 0, 0)
	e2eSameSet(t, "results after the second repair", e2eIDs(t, e2eLines(t, third.sum.Results), "id"), ids)

	// A last line that is whole but for its newline was never reported
	// done either (its one write was cut short): it is cut and run again,
	// never kept and duplicated.
	b, err = os.ReadFile(third.sum.Results)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(third.sum.Results, b[:len(b)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	fourth := e2eRun(t, cfg)
	if fourth.code != 0 || fourth.err != nil {
		t.Fatalf("fourth run: exit %d, %v\n%s", fourth.code, fourth.err, fourth.stderr)
	}
	e2eCheckSummary(t, fourth.sum, 1, 9, 1, 0, 0)
	e2eSameSet(t, "results after the third repair", e2eIDs(t, e2eLines(t, fourth.sum.Results), "id"), ids)
}

// An id repeated in the input is reported with the line it was first on,
// even when that first one succeeded in an earlier run and is skipped.
func TestRunRepeatedIDOfAResumedItem(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 17})
	dir := t.TempDir()
	path := e2eWrite(t, dir, "in.jsonl", `{"id": "x", "url": "/item/x"}`+"\n")
	cfg := batch.Config{Input: path, BaseURL: srv.URL()}
	if o := e2eRun(t, cfg); o.code != 0 {
		t.Fatalf("first run: exit %d, %v", o.code, o.err)
	}
	e2eWrite(t, dir, "in.jsonl", `{"id": "x", "url": "/item/x"}`+"\n"+`{"id": "y", "url": "/item/y"}`+"\n"+`{"id": "x", "url": "/item/x2"}`+"\n")
	o := e2eRun(t, cfg)
	if o.code != 1 || o.err != nil {
		t.Fatalf("second run: exit %d, %v; want 1\n%s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, 1, 1, 1, 0, 1)
	if want := `line 3: repeated id "x" (first on line 1)`; !strings.Contains(o.stderr, want) {
		t.Errorf("stderr %q does not say %q", o.stderr, want)
	}
	e2eSameSet(t, "results", e2eIDs(t, e2eLines(t, o.sum.Results), "id"), []string{"x", "y"})
}

func TestRunOrderedWritesInInputOrder(t *testing.T) {
	lat, err := mock.ParseLatency("3ms±3ms")
	if err != nil {
		t.Fatal(err)
	}
	srv := e2eMock(t, mock.Config{Latency: lat, Seed: 18})
	dir := t.TempDir()
	ids := e2eNames("o", 150)
	in := e2eHTTPFile(t, dir, ids)
	o := e2eRun(t, batch.Config{Input: in, BaseURL: srv.URL(), Ordered: true, Limits: sluice.Limits{Concurrency: 8, FixedConcurrency: true}})
	if o.code != 0 || o.err != nil {
		t.Fatalf("Run: exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	got := e2eIDs(t, e2eLines(t, o.sum.Results), "id")
	if !slices.Equal(got, ids) {
		t.Errorf("ordered results are not in input order: %v", got)
	}
	if st := srv.Stats(); st.PeakConcurrency < 2 {
		t.Errorf("peak concurrency %d: the calls did not overlap, so order proves nothing", st.PeakConcurrency)
	}

	// Unordered, the same run finishes out of order (not asserted: it is
	// only a sign that the ordered run had something to put in order).
	unordered := e2eRun(t, batch.Config{Input: in, Out: filepath.Join(dir, "unordered.jsonl"), BaseURL: srv.URL(), Limits: sluice.Limits{Concurrency: 8, FixedConcurrency: true}})
	if unordered.code != 0 {
		t.Fatalf("unordered run: exit %d, %v", unordered.code, unordered.err)
	}
	if u := e2eIDs(t, e2eLines(t, unordered.sum.Results), "id"); slices.Equal(u, ids) {
		t.Logf("the unordered run happened to finish in input order")
	}
}

// An exhausted quota stops the run: exit 3, what succeeded saved, the rest
// not started; a rerun against an API with quota finishes the rest.
func TestRunQuotaExhaustedStopsAndResumes(t *testing.T) {
	poor := e2eMock(t, mock.Config{Style: mock.OpenAI, Quota: 150, Seed: 19})
	dir := t.TempDir()
	ids := e2eNames("q", 40)
	var in strings.Builder
	for _, id := range ids {
		in.WriteString(e2eChat(id, 20) + "\n")
	}
	path := e2eWrite(t, dir, "batch.jsonl", in.String())
	env := e2eEnv("OPENAI_API_KEY", "sk-e2e")
	cfg := batch.Config{Input: path, API: "openai", BaseURL: poor.URL(), Getenv: env, Limits: limitsC(2)}

	first := e2eRun(t, cfg)
	st := poor.Stats()
	s := first.sum
	t.Logf("first run: %d succeeded, %d failed, %d not started; mock: %+v", s.Succeeded, s.Failed, s.NotStarted, st)
	if first.code != 3 || first.err != nil || s.Stopped == nil {
		t.Fatalf("first run: exit %d, %v, stopped %v; want 3, nil, quota\n%s", first.code, first.err, s.Stopped, first.stderr)
	}
	if !strings.Contains(s.Stopped.Error(), "quota") {
		t.Errorf("stopped because %q; want it to name the quota", s.Stopped)
	}
	if s.Succeeded == 0 || s.NotStarted == 0 || s.Succeeded+s.Failed >= 40 {
		t.Errorf("first run: %d succeeded, %d failed, %d not started; want some of each but failed, and most left", s.Succeeded, s.Failed, s.NotStarted)
	}
	if s.Items != s.Succeeded+s.Failed+s.NotStarted {
		t.Errorf("items %d != succeeded %d + failed %d + not started %d", s.Items, s.Succeeded, s.Failed, s.NotStarted)
	}
	if st.Requests != int64(s.Succeeded+s.Failed) || st.Accepted != int64(s.Succeeded) || st.Throttled["quota"] != int64(s.Failed) {
		t.Errorf("mock: %d requests, %d accepted, %d refused for quota; run: %d succeeded, %d failed",
			st.Requests, st.Accepted, st.Throttled["quota"], s.Succeeded, s.Failed)
	}
	if n := len(e2eLines(t, s.Results)); n != s.Succeeded {
		t.Errorf("results file has %d lines, want %d", n, s.Succeeded)
	}
	// The reviewer's summary said "0 answered 429" after 8 such answers:
	// a quota's 429 is no throttling, but it is a 429.
	if s.Throttled != st.Throttled["quota"] {
		t.Errorf("summary counts %d answered 429, the mock sent %d", s.Throttled, st.Throttled["quota"])
	}
	for _, l := range e2eLines(t, s.Errors) {
		if c, _, _ := e2eFailureOf(t, l); c != "quota-exhausted" {
			t.Errorf("errors line class %q, want quota-exhausted", c)
		}
	}

	rich := e2eMock(t, mock.Config{Style: mock.OpenAI, Seed: 20})
	cfg.BaseURL = rich.URL()
	second := e2eRun(t, cfg)
	if second.code != 0 || second.err != nil {
		t.Fatalf("second run: exit %d, %v\n%s", second.code, second.err, second.stderr)
	}
	e2eCheckSummary(t, second.sum, 40-s.Succeeded, s.Succeeded, 40-s.Succeeded, 0, 0)
	if got := rich.Stats().Requests; got != int64(40-s.Succeeded) {
		t.Errorf("the rerun sent %d requests, want %d", got, 40-s.Succeeded)
	}
	e2eSameSet(t, "results after the rerun", e2eIDs(t, e2eLines(t, second.sum.Results), "custom_id"), ids)
}

// Cancelling the run's context is the in-process interrupt: no new calls,
// calls in flight finish and are saved, exit 3, and a rerun does the rest.
func TestRunInterruptedSavesAndResumes(t *testing.T) {
	srv := e2eMock(t, mock.Config{Latency: mock.FixedLatency(10 * time.Millisecond), Seed: 21})
	dir := t.TempDir()
	ids := e2eNames("i", 400)
	cfg := batch.Config{Input: e2eHTTPFile(t, dir, ids), BaseURL: srv.URL(), Limits: sluice.Limits{Concurrency: 4, FixedConcurrency: true}}
	results := filepath.Join(dir, "items.results.jsonl")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Interrupt once a few results are saved.
		for ctx.Err() == nil {
			if b, _ := os.ReadFile(results); strings.Count(string(b), "\n") >= 10 {
				cancel()
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	first := e2eRunCtx(t, ctx, cfg)
	s := first.sum
	t.Logf("interrupted run: %d succeeded, %d not started", s.Succeeded, s.NotStarted)
	if first.code != 3 || first.err != nil || s.Stopped == nil {
		t.Fatalf("interrupted run: exit %d, %v, stopped %v; want 3, nil, interrupted\n%s", first.code, first.err, s.Stopped, first.stderr)
	}
	if s.Failed != 0 {
		t.Errorf("an interrupt failed %d items; calls in flight should finish, the rest not start", s.Failed)
	}
	if s.Succeeded < 10 || s.Succeeded >= len(ids) || s.Items != s.Succeeded+s.NotStarted {
		t.Errorf("interrupted run: %d items, %d succeeded, %d not started", s.Items, s.Succeeded, s.NotStarted)
	}
	st := srv.Stats()
	if st.Accepted != int64(s.Succeeded) {
		t.Errorf("the mock answered %d, the run saved %d", st.Accepted, s.Succeeded)
	}
	lines := e2eLines(t, results)
	if len(lines) != s.Succeeded {
		t.Errorf("results file has %d lines, summary says %d succeeded", len(lines), s.Succeeded)
	}
	e2eIDs(t, lines, "id")

	// The rest, against an API that answers at once.
	cfg.BaseURL = e2eMock(t, mock.Config{Seed: 121}).URL()
	second := e2eRun(t, cfg)
	if second.code != 0 || second.err != nil {
		t.Fatalf("rerun: exit %d, %v\n%s", second.code, second.err, second.stderr)
	}
	e2eCheckSummary(t, second.sum, len(ids)-s.Succeeded, s.Succeeded, len(ids)-s.Succeeded, 0, 0)
	e2eSameSet(t, "results after the rerun", e2eIDs(t, e2eLines(t, results), "id"), ids)
}

// A results line holds the API's body as JSON when it is JSON, else as a
// string; a body that is not UTF-8 comes as body_base64, byte for byte,
// rather than breaking the line (or losing bytes to U+FFFD).
func TestRunBodiesThatAreNotJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/item/text":
			w.Write([]byte("plain text\n"))
		case "/item/binary":
			w.Write([]byte{0xff, 0xfe, 'a'})
		case "/item/empty":
		default:
			w.Write([]byte(`{"a": [1, 2]}`))
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	o := e2eRun(t, batch.Config{Input: e2eHTTPFile(t, dir, []string{"text", "binary", "empty", "json"}), BaseURL: srv.URL})
	if o.code != 0 || o.err != nil {
		t.Fatalf("Run: exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	want := map[string]string{"text": `"plain text\n"`, "binary": `"//5h"`, "empty": `""`, "json": `{"a":[1,2]}`}
	for _, l := range e2eLines(t, o.sum.Results) {
		id := e2eID(t, l["id"])
		var got, exp any
		member := "body"
		if id == "binary" {
			member = "body_base64" // 0xff 0xfe 'a'
		}
		json.Unmarshal(l[member], &got)
		json.Unmarshal([]byte(want[id]), &exp)
		if fmt.Sprint(got) != fmt.Sprint(exp) {
			t.Errorf("%s: %s %s, want %s", id, member, l[member], want[id])
		}
	}
}

// Calls still in flight when the drain time runs out are cut: the run
// returns soon after DrainTimeout, not when the API answers, exits 3, and
// the rerun does them again.
func TestRunDrainTimeoutCutsCallsInFlight(t *testing.T) {
	slow := e2eMock(t, mock.Config{Latency: mock.FixedLatency(20 * time.Second), Seed: 22})
	dir := t.TempDir()
	ids := e2eNames("w", 20)
	cfg := batch.Config{Input: e2eHTTPFile(t, dir, ids), BaseURL: slow.URL(), DrainTimeout: 100 * time.Millisecond, Limits: limitsC(4)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for slow.Stats().InFlight == 0 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	begin := time.Now()
	o := e2eRunCtx(t, ctx, cfg)
	took := time.Since(begin)
	s := o.sum
	if o.code != 3 || o.err != nil || s.Stopped == nil {
		t.Fatalf("exit %d, %v, stopped %v; want 3\n%s", o.code, o.err, s.Stopped, o.stderr)
	}
	if took > 10*time.Second {
		t.Errorf("Run took %v with a 100ms drain: it waited for the API", took)
	}
	if s.Succeeded != 0 || s.Items != s.Failed+s.NotStarted || s.Items == 0 {
		t.Errorf("%d items, %d succeeded, %d failed, %d not started; want every item read accounted for", s.Items, s.Succeeded, s.Failed, s.NotStarted)
	}
	if n := len(e2eLines(t, s.Results)); n != 0 {
		t.Errorf("results file has %d lines, want none", n)
	}
	t.Logf("cut calls: %d counted failed, %d not started", s.Failed, s.NotStarted)

	fast := e2eMock(t, mock.Config{Seed: 23})
	cfg.BaseURL = fast.URL()
	second := e2eRun(t, cfg)
	if second.code != 0 {
		t.Fatalf("rerun: exit %d, %v", second.code, second.err)
	}
	e2eSameSet(t, "results after the rerun", e2eIDs(t, e2eLines(t, s.Results), "id"), ids)
}

// An API that throttles: the run learns its pace, retries the 429s, and
// the summary's counts agree with what the API saw.
func TestRunThrottledAPI(t *testing.T) {
	srv := e2eMock(t, mock.Config{Requests: mock.Limit{N: 20, Per: time.Second}, Seed: 24})
	dir := t.TempDir()
	ids := e2eNames("h", 30)
	o := e2eRun(t, batch.Config{Input: e2eHTTPFile(t, dir, ids), BaseURL: srv.URL(), Limits: limitsC(8)})
	if o.code != 0 || o.err != nil {
		t.Fatalf("exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, 30, 0, 30, 0, 0)
	st := srv.Stats()
	t.Logf("%d attempts, %d throttled, in %v", o.sum.Attempts, o.sum.Throttled, o.sum.Elapsed)
	if st.Accepted != 30 || o.sum.Attempts != st.Requests || o.sum.Throttled != st.ThrottledTotal() {
		t.Errorf("summary: %d attempts, %d throttled; the mock saw %d requests, accepted %d, throttled %d",
			o.sum.Attempts, o.sum.Throttled, st.Requests, st.Accepted, st.ThrottledTotal())
	}
	e2eSameSet(t, "results", e2eIDs(t, e2eLines(t, o.sum.Results), "id"), ids)
}

// --timeout bounds the wait for an answer; with retries off, a call that
// does not answer in time fails as transient, with the reason.
func TestRunAttemptTimeout(t *testing.T) {
	slow := e2eMock(t, mock.Config{Latency: mock.FixedLatency(5 * time.Second), Seed: 25})
	dir := t.TempDir()
	o := e2eRun(t, batch.Config{Input: e2eHTTPFile(t, dir, []string{"a", "b"}), BaseURL: slow.URL(), Timeout: 50 * time.Millisecond, Retries: -1})
	if o.code != 1 || o.err != nil {
		t.Fatalf("exit %d, %v; want 1\n%s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, 2, 0, 0, 2, 0)
	for _, l := range e2eLines(t, o.sum.Errors) {
		if c, m := e2eString(t, l["class"]), e2eString(t, l["message"]); c != "transient" || !strings.Contains(m, "50ms") {
			t.Errorf("timed-out call: class %q, message %q; want transient, naming the 50ms", c, m)
		}
	}
}

// Standard input works as the input, with -o naming the results.
func TestRunStdin(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 26})
	dir := t.TempDir()
	out := filepath.Join(dir, "from-stdin.jsonl")
	in := strings.NewReader(srv.URL() + "/a\n" + srv.URL() + "/b\n")
	o := e2eRun(t, batch.Config{Input: "-", Stdin: in, Out: out})
	if o.code != 0 || o.err != nil {
		t.Fatalf("exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	e2eSameSet(t, "results", e2eIDs(t, e2eLines(t, out), "id"), []string{srv.URL() + "/a", srv.URL() + "/b"})
	if o.sum.Errors != filepath.Join(dir, "from-stdin.errors.jsonl") {
		t.Errorf("errors file %s; want from-stdin.errors.jsonl beside the results", o.sum.Errors)
	}
	if _, err := os.Stat(o.sum.Errors); err == nil {
		t.Errorf("nothing failed, yet there is an errors file")
	}
}

// Two runs on one results file would duplicate results: the second is
// refused as a usage error and sends nothing.
func TestRunRefusesAResultsFileInUse(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 27})
	dir := t.TempDir()
	in := e2eHTTPFile(t, dir, []string{"a", "b"})
	results := filepath.Join(dir, "items.results.jsonl")
	j, err := journal.Open(journal.Options{ResultsPath: results, ErrorsPath: filepath.Join(dir, "items.errors.jsonl")}, input.ValidLineID)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	o := e2eRun(t, batch.Config{Input: in, BaseURL: srv.URL()})
	if o.code != 2 || !errors.Is(o.err, batch.ErrUsage) || !strings.Contains(o.err.Error(), "in use") {
		t.Errorf("second run on a file in use: exit %d, %v; want 2, in use", o.code, o.err)
	}
	if st := srv.Stats(); st.Requests != 0 {
		t.Errorf("sent %d requests", st.Requests)
	}
}

// A results file damaged before its last line is not guessed at: the run
// names the line and sends nothing.
func TestRunRefusesADamagedResultsFile(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 28})
	dir := t.TempDir()
	in := e2eHTTPFile(t, dir, []string{"a", "b", "c"})
	results := filepath.Join(dir, "items.results.jsonl")
	e2eWrite(t, dir, "items.results.jsonl", `{"id":"a","status":200}`+"\n"+`{"id":"b",`+"\n"+`{"id":"c","status":200}`+"\n")
	o := e2eRun(t, batch.Config{Input: in, BaseURL: srv.URL()})
	if o.code != 2 || o.err == nil || !strings.Contains(o.err.Error(), "line 2") {
		t.Errorf("exit %d, %v; want 2, naming line 2", o.code, o.err)
	}
	if st := srv.Stats(); st.Requests != 0 {
		t.Errorf("sent %d requests", st.Requests)
	}
	if b, _ := os.ReadFile(results); !strings.Contains(string(b), `{"id":"b",`) {
		t.Errorf("the damaged file was changed: %q", b)
	}
}

// e2eRunNoPanic is e2eRun that turns a panic of the runner into a test
// failure, so that one crashing case does not end the whole test binary.
func e2eRunNoPanic(t *testing.T, cfg batch.Config) (o e2eOutcome, ok bool) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			t.Errorf("batch.Run panicked: %v", v)
			ok = false
		}
	}()
	return e2eRun(t, cfg), true
}

// Ids are written so that the next run reads back the same id: a number
// as its decimal, a string (even one of digits, such as a zip code or a
// SKU with leading zeros) as that string.
func TestRunIDsSurviveTheRoundTrip(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 29})
	dir := t.TempDir()
	lines := []struct{ id, want string }{
		{`1e3`, "1000"},
		{`2.50`, "2.5"},
		{`-7`, "-7"},
		{`12345678901234567890`, "12345678901234567890"},
		{`"42"`, "42"},
		{`"007"`, "007"},
		{`"+5"`, "+5"},
		{`"-0"`, "-0"},
		{`"x y"`, "x y"},
	}
	var b strings.Builder
	var want []string
	for i, l := range lines {
		fmt.Fprintf(&b, `{"id": %s, "url": "/n/%d"}`+"\n", l.id, i)
		want = append(want, l.want)
	}
	cfg := batch.Config{Input: e2eWrite(t, dir, "ids.jsonl", b.String()), BaseURL: srv.URL()}
	o, ok := e2eRunNoPanic(t, cfg)
	if !ok {
		return
	}
	if o.code != 0 || o.err != nil {
		t.Fatalf("exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	e2eSameSet(t, "results", e2eIDs(t, e2eLines(t, o.sum.Results), "id"), want)
	again, ok := e2eRunNoPanic(t, cfg)
	if !ok {
		return
	}
	if again.code != 0 || again.sum.Resumed != len(lines) || again.sum.Succeeded != 0 {
		t.Errorf("rerun: exit %d, %d resumed, %d succeeded; want 0, %d, 0", again.code, again.sum.Resumed, again.sum.Succeeded, len(lines))
	}
}

// The same for a csv id column: codes with leading zeros are common there.
func TestRunCSVIDsWithLeadingZeros(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 30})
	dir := t.TempDir()
	cfg := batch.Config{Input: e2eWrite(t, dir, "zips.csv", "id,url\n02134,/z/1\n10001,/z/2\n"), BaseURL: srv.URL()}
	o, ok := e2eRunNoPanic(t, cfg)
	if !ok {
		return
	}
	if o.code != 0 || o.err != nil {
		t.Fatalf("exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	e2eSameSet(t, "results", e2eIDs(t, e2eLines(t, o.sum.Results), "id"), []string{"02134", "10001"})
}

// A second Ctrl-C (Config.Abandon) cuts the calls in flight at once
// instead of waiting out the drain: it used to quit without a summary,
// and the first alone waits up to DrainTimeout for calls that may hang.
func TestRunAbandonCutsCallsInFlightWithASummary(t *testing.T) {
	slow := e2eMock(t, mock.Config{Latency: mock.FixedLatency(20 * time.Second), Seed: 25})
	dir := t.TempDir()
	ids := e2eNames("a", 20)
	abandon := make(chan struct{})
	cfg := batch.Config{Input: e2eHTTPFile(t, dir, ids), BaseURL: slow.URL(), DrainTimeout: time.Minute, Limits: limitsC(4), Abandon: abandon}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for slow.Stats().InFlight == 0 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
		close(abandon)
	}()
	begin := time.Now()
	o := e2eRunCtx(t, ctx, cfg)
	if took := time.Since(begin); took > 10*time.Second {
		t.Errorf("Run took %v after the calls were abandoned: it waited out the drain or the API", took)
	}
	s := o.sum
	if o.code != 3 || s.Stopped == nil || s.Items != s.NotStarted || s.Items == 0 {
		t.Errorf("exit %d, stopped %v, %d items, %d failed, %d not started; want 3 and every item read not finished", o.code, s.Stopped, s.Items, s.Failed, s.NotStarted)
	}
	// The cut calls are ours, not the API's failures: they are left for
	// the next run, and the errors file holds none of them (outside
	// review: they were written as failed, "context canceled").
	if s.Failed != 0 || len(s.Reasons) != 0 {
		t.Errorf("%d cut calls written as failed (%v); want them not finished", s.Failed, s.Reasons)
	}
}
