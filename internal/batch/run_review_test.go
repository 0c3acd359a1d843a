package batch_test

// Regressions from a review of issue 10's sluice run, tried as a user.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/mock"
)

// A base URL given with /v1 and without reaches the same endpoint; moving
// between them re-ran (and re-billed) the whole batch as "changed".
func TestRunResumeSameWithOrWithoutV1(t *testing.T) {
	srv := e2eMock(t, mock.Config{Style: mock.Anthropic, Seed: 71})
	dir := t.TempDir()
	cfg := batch.Config{Input: e2eMessages(t, dir, 6), API: "anthropic", BaseURL: srv.URL(), Getenv: e2eEnv("ANTHROPIC_API_KEY", "sk-x")}
	if o := e2eRun(t, cfg); o.code != 0 {
		t.Fatalf("first run: exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	cfg.BaseURL = srv.URL() + "/v1"
	o := e2eRun(t, cfg)
	if o.sum.Changed != 0 || o.sum.Resumed != 6 {
		t.Errorf("the same batch with /v1 on the base URL: %d changed, %d skipped; want 0, 6", o.sum.Changed, o.sum.Resumed)
	}
}

// A per-run header such as a trace id does not change what the API is
// asked; it made every item run again.
func TestRunResumeIgnoresTraceHeaders(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 72})
	dir := t.TempDir()
	ids := e2eNames("t", 5)
	cfg := batch.Config{Input: e2eHTTPFile(t, dir, ids), BaseURL: srv.URL(), Headers: []string{"X-Trace: 1", "Traceparent: 00-aa-bb-01"}}
	if o := e2eRun(t, cfg); o.code != 0 {
		t.Fatalf("first run: exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	cfg.Headers = []string{"X-Trace: 2", "Traceparent: 00-cc-dd-01"}
	o := e2eRun(t, cfg)
	if o.sum.Changed != 0 || o.sum.Resumed != 5 {
		t.Errorf("new trace headers: %d changed, %d skipped; want 0, 5", o.sum.Changed, o.sum.Resumed)
	}
}

// A URL list whose pages are missing is a crawl's answer, not a wrong
// setup: 404s on different paths must not stop the run.
func TestRunURLListOfMissingPagesIsNotDoomed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":{"message":"no such route"}}`)
	}))
	defer srv.Close()
	var b strings.Builder
	for i := range 30 {
		fmt.Fprintf(&b, "%s/p%d\n", srv.URL, i)
	}
	o := e2eRun(t, batch.Config{Input: e2eWrite(t, t.TempDir(), "urls.txt", b.String())})
	if o.code != 1 || o.sum.Stopped != nil || o.sum.Failed != 30 {
		t.Errorf("30 missing pages: exit %d, stopped %v, %d failed; want 1, not stopped, 30 failed", o.code, o.sum.Stopped, o.sum.Failed)
	}
}
