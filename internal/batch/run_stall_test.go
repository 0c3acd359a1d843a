package batch_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/batch"
)

// A server that sends the headers and then nothing kept its item in
// flight for ever: --timeout bounded only the wait for the headers. Now
// a body idle for the timeout fails its call as transient, saying why,
// while a slow body that keeps arriving is read whole.
func TestRunStalledBodyFailsItsItem(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/item/stalls":
			fmt.Fprint(w, `{"partial":`)
			w.(http.Flusher).Flush()
			select { // until the test ends
			case <-release:
			case <-r.Context().Done():
			}
		case "/item/dribbles": // 12 pieces, 25ms apart: slower in all than the timeout, never idle for it
			for i := range 12 {
				fmt.Fprintf(w, `%s"%d"`, map[bool]string{true: "[", false: ","}[i == 0], i)
				w.(http.Flusher).Flush()
				time.Sleep(25 * time.Millisecond)
			}
			fmt.Fprint(w, "]")
		default:
			fmt.Fprint(w, `{"ok":true}`)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	dir := t.TempDir()
	o := e2eRun(t, batch.Config{Input: e2eHTTPFile(t, dir, []string{"stalls", "dribbles", "fine"}), BaseURL: srv.URL, Timeout: 200 * time.Millisecond, Retries: -1})
	checkStalledFailed(t, o)
}

// checkStalledFailed checks a run of "stalls", "dribbles" and "fine" with
// a 200ms timeout: the first failed as transient, saying its body stopped
// for 200ms; the others succeeded.
func checkStalledFailed(t *testing.T, o e2eOutcome) {
	t.Helper()
	if o.code != 1 || o.err != nil {
		t.Fatalf("exit %d, %v; want 1 (one item failed)\n%s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, 3, 0, 2, 1, 0)
	e2eSameSet(t, "results", e2eIDs(t, e2eLines(t, o.sum.Results), "id"), []string{"dribbles", "fine"})
	for _, l := range e2eLines(t, o.sum.Errors) {
		if c, m := e2eString(t, l["class"]), e2eString(t, l["message"]); c != "transient" || !strings.Contains(m, "stopped arriving") || !strings.Contains(m, "200ms") {
			t.Errorf("stalled body: class %q, message %q; want transient, saying the body stopped for 200ms", c, m)
		}
	}
}
