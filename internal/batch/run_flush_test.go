package batch_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/batch"
)

// TestRunWritesResultsWhileOthersAreStillRunning protects the periodic
// flush: results lines are queued and written together, but a result is
// written soon after it comes, not only when enough others join it or the
// batch ends, so a kill loses little work.
func TestRunWritesResultsWhileOthersAreStillRunning(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	in := e2eWrite(t, dir, "in.jsonl", `{"id":"fast","url":"`+srv.URL+`/fast"}`+"\n"+`{"id":"slow","url":"`+srv.URL+`/slow"}`+"\n")
	done := make(chan e2eOutcome, 1)
	go func() { done <- e2eRun(t, batch.Config{Input: in, Out: out}) }()

	// Not a timing tolerance: the slow item waits for the fast one's line,
	// so without the periodic flush this loop would wait forever.
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if strings.Contains(string(b), `"fast"`) {
			break
		}
		if time.Now().After(deadline) {
			close(release)
			<-done
			t.Fatal("the fast item's result was not written while the slow one was in flight")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	o := <-done
	if o.err != nil || o.code != 0 {
		t.Fatalf("Run: exit %d, %v\nstderr: %s", o.code, o.err, o.stderr)
	}
	e2eSameSet(t, "results", e2eIDs(t, e2eLines(t, out), "id"), []string{"fast", "slow"})
}

// TestRunURLLogin protects what http.Client did before the runner called
// the Transport directly: a user and password in the URL are sent as basic
// auth, and never written out in an error.
func TestRunURLLogin(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != "alice" || pass != "s3cret" {
			http.Error(w, `{"error":"no auth"}`, http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	refused := httptest.NewServer(http.NotFoundHandler())
	refused.Close() // nothing listens there now
	dir := t.TempDir()
	in := e2eWrite(t, dir, "in.jsonl",
		`{"id":"a","url":"`+strings.Replace(srv.URL, "http://", "http://alice:s3cret@", 1)+`/x"}`+"\n"+
			`{"id":"b","url":"`+strings.Replace(refused.URL, "http://", "http://bob:hunter2@", 1)+`/y"}`+"\n")
	out := filepath.Join(dir, "out.jsonl")
	o := e2eRun(t, batch.Config{Input: in, Out: out, Retries: -1})
	if o.sum.Succeeded != 1 || o.sum.Failed != 1 {
		t.Fatalf("%d succeeded, %d failed; want a to succeed and b to fail\n%s", o.sum.Succeeded, o.sum.Failed, o.stderr)
	}
	errs, err := os.ReadFile(o.sum.Errors)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(errs)+o.stderr, "hunter2") || !strings.Contains(string(errs), "bob:***@") {
		t.Errorf("errors file: %s\nwant the password hidden as ***", errs)
	}
}
