package mcp

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// stuckServer answers /fast/ at once and holds /slow/ until the request
// is abandoned, counting the abandoned ones.
func stuckServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var abandoned atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/fast/") {
			fmt.Fprint(w, "done")
			return
		}
		<-r.Context().Done()
		abandoned.Add(1)
	}))
	t.Cleanup(api.Close)
	return api, &abandoned
}

// roomForAll lets every item of these tests be in flight at once, so
// that the held /slow/ requests never keep a /fast/ one waiting for a
// slot (the adaptive per-host limit starts below 20).
var roomForAll = Config{AllowPrivate: true, Host: sluice.Limits{Concurrency: 64, FixedConcurrency: true}}

// waitFor polls until check holds, giving up after 10s.
func waitFor(t *testing.T, check func() bool) {
	t.Helper()
	giveUp := time.After(10 * time.Second)
	for !check() {
		select {
		case <-giveUp:
			t.Fatal("gave up waiting")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestCancelToolStopsARunningCall(t *testing.T) {
	api, abandoned := stuckServer(t)
	_, cs := session(t, roomForAll, nil)
	list := append(urls(api.URL+"/fast", 3), urls(api.URL+"/slow", 20)...)
	rep, _ := callTool(t, cs, "fetch_many", map[string]any{"urls": list, "background": true})
	handle := rep.Summary.Handle
	if rep.Summary.State != stateRunning {
		t.Fatalf("background call: state %q, want running", rep.Summary.State)
	}
	waitFor(t, func() bool {
		r, _ := callTool(t, cs, "get_results", map[string]any{"handle": handle})
		return r.Summary.Succeeded == 3
	})
	got, res := callTool(t, cs, "cancel", map[string]any{"handle": handle})
	s := got.Summary
	if s.State != stateCanceled || s.Succeeded != 3 || s.Failed != 20 || s.Pending != 0 || s.ByError["canceled"] != 20 {
		t.Errorf("after cancel: %+v", s)
	}
	if !strings.Contains(textOfResult(res), "get_results handle="+handle) {
		t.Errorf("cancel's text does not say the results stay readable: %s", textOfResult(res))
	}
	after, _ := callTool(t, cs, "get_results", map[string]any{"handle": handle, "filter": "ok"})
	if len(after.Items) != 3 || after.Items[0].Text != "done" {
		t.Errorf("results so far: %+v", after.Items)
	}
	failed, _ := callTool(t, cs, "get_results", map[string]any{"handle": handle, "filter": "failed", "limit": 1})
	if it := failed.Items[0]; it.ErrorClass != "canceled" || !strings.Contains(it.Error, "canceled by the cancel tool") {
		t.Errorf("a canceled item: %+v", it)
	}
	waitFor(t, func() bool { return abandoned.Load() > 0 })
}

// TestClientCancellationStopsTheCall: the client gives up on a
// fetch_many (notifications/cancelled); the call stops, and what it got
// stays readable by its handle.
func TestClientCancellationStopsTheCall(t *testing.T) {
	api, abandoned := stuckServer(t)
	srv, cs := session(t, roomForAll, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := callErr(ctx, cs, "fetch_many", map[string]any{"urls": append(urls(api.URL+"/fast", 2), urls(api.URL+"/slow", 10)...)})
		done <- err
	}()
	waitFor(t, func() bool {
		c, err := srv.fetcher.store.get("f1")
		return err == nil && c.summary().Succeeded == 2 && srv.Stats().InFlight >= 1
	})
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a canceled CallTool returned no error")
	}
	waitFor(t, func() bool {
		r, _ := callTool(t, cs, "get_results", map[string]any{"handle": "f1"})
		return r.Summary.State == stateCanceled
	})
	r, _ := callTool(t, cs, "get_results", map[string]any{"handle": "f1"})
	if r.Summary.Succeeded != 2 || r.Summary.ByError["canceled"] != 10 {
		t.Errorf("after the client's cancellation: %+v", r.Summary)
	}
	waitFor(t, func() bool { return abandoned.Load() > 0 })
}

func TestTimeBudgetEndsTheCall(t *testing.T) {
	api, _ := stuckServer(t)
	_, cs := session(t, Config{AllowPrivate: true}, nil)
	rep, res := callTool(t, cs, "fetch_many", map[string]any{"urls": []string{api.URL + "/fast/1", api.URL + "/slow/1"}, "time_budget_seconds": 0.2})
	s := rep.Summary
	if res.IsError || s.State != stateOutOfTime || s.Succeeded != 1 || s.ByError["out_of_time"] != 1 {
		t.Errorf("summary %+v", s)
	}
}

func TestRunningCallsAreCapped(t *testing.T) {
	api, _ := stuckServer(t)
	_, cs := session(t, Config{AllowPrivate: true, MaxRunning: 2}, nil)
	for range 2 {
		callTool(t, cs, "fetch_many", map[string]any{"urls": []string{api.URL + "/slow/1"}, "background": true})
	}
	res, err := callErr(t.Context(), cs, "fetch_many", map[string]any{"urls": []string{api.URL + "/fast/1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || !strings.Contains(textOfResult(res), "2 fetch_many calls are running already, this server's cap") {
		t.Errorf("a third call: IsError %v, %q", res.IsError, textOfResult(res))
	}
	callTool(t, cs, "cancel", map[string]any{"handle": "f1"})
	waitFor(t, func() bool {
		res, err := callErr(t.Context(), cs, "fetch_many", map[string]any{"urls": []string{api.URL + "/fast/1"}})
		return err == nil && !res.IsError
	})
}
