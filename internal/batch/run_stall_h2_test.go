package batch_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/batch"
)

// Over HTTP/2 (what the LLM APIs speak), the calls of a run share one
// connection, whose reads go on while any stream moves: the idle limit
// on the connection never saw one stalled stream beside a busy one, and
// its item stayed in flight for ever. Here a stream dribbles until the
// stalled one has been given up: the run ends only if that stream is
// watched on its own.
func TestRunStalledHTTP2StreamFailsItsItem(t *testing.T) {
	stallGone := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			http.Error(w, "want HTTP/2", http.StatusHTTPVersionNotSupported)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/item/stalls":
			fmt.Fprint(w, `{"partial":`)
			w.(http.Flusher).Flush()
			<-r.Context().Done() // the client gave up on it
			close(stallGone)
		case "/item/dribbles": // keeps the shared connection busy until the stall is given up
			fmt.Fprint(w, `[0`)
			for i := 1; ; i++ {
				select {
				case <-stallGone:
					fmt.Fprint(w, "]")
					return
				case <-r.Context().Done():
					return
				case <-time.After(20 * time.Millisecond):
				}
				fmt.Fprintf(w, ",%d", i)
				w.(http.Flusher).Flush()
			}
		default:
			fmt.Fprint(w, `{"ok":true}`)
		}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)

	timeout := 200 * time.Millisecond
	pool := sluice.Limits{}.HTTPTransport()
	pool.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	pool.ForceAttemptHTTP2 = true
	dir := t.TempDir()
	o := e2eRun(t, batch.Config{Input: e2eHTTPFile(t, dir, []string{"dribbles", "stalls", "fine"}), BaseURL: srv.URL,
		Timeout: timeout, Retries: -1, Base: batch.StallBase(pool, timeout)})
	checkStalledFailed(t, o)
}
