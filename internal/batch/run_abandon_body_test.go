package batch_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/batch"
)

// A second Ctrl-C that cuts calls whose answers are still arriving (the
// headers came, the body had not) leaves them for the next run, as it does
// calls still waiting for their headers: they were cut by us, not failed
// by the API.
func TestRunAbandonMidBodyLeavesCallsNotFinished(t *testing.T) {
	var started atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"part": "`))
		w.(http.Flusher).Flush()
		started.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	dir := t.TempDir()
	ids := e2eNames("b", 12)
	abandon := make(chan struct{})
	cfg := batch.Config{Input: e2eHTTPFile(t, dir, ids), BaseURL: srv.URL, DrainTimeout: time.Minute, Limits: limitsC(4), Abandon: abandon}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for started.Load() < 4 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
		close(abandon)
	}()
	o := e2eRunCtx(t, ctx, cfg)
	s := o.sum
	if o.code != 3 || s.Items == 0 || s.Items != s.NotStarted || s.Failed != 0 {
		t.Errorf("exit %d, %d items, %d failed (%v), %d not finished; want 3 and every item not finished", o.code, s.Items, s.Failed, s.Reasons, s.NotStarted)
	}
}
