package mcp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestItemsBeyondTheBudgetSayWhy: a host answers 429 with Retry-After:
// 30 in a call of a 2s budget. The items its gate would admit only after
// the budget fail at once as out_of_time, attempts 0, naming the host and
// its wait, not as a network error in Go's words.
func TestItemsBeyondTheBudgetSayWhy(t *testing.T) {
	var served atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Header().Set("Retry-After", "30")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}))
	defer api.Close()
	host := strings.TrimPrefix(api.URL, "http://")
	_, cs := session(t, Config{AllowPrivate: true, HostLimits: map[string]sluice.Limits{host: {Concurrency: 1}}}, nil)
	rep, _ := callTool(t, cs, "fetch_many", map[string]any{"urls": urls(api.URL, 4), "time_budget_seconds": 2, "page_size": 4})
	s := rep.Summary
	if s.State != stateDone || s.Failed != 4 {
		t.Fatalf("summary %+v; want done, 4 failed", s)
	}
	notSent := 0
	for _, it := range rep.Items {
		if it.Attempts > 0 {
			continue
		}
		notSent++
		if it.ErrorClass != "out_of_time" || !strings.Contains(it.Error, "not sent: host "+host+" asked to wait") || !strings.Contains(it.Error, "beyond this call's time budget") {
			t.Errorf("item %d never sent: class %q, error %q", it.Index, it.ErrorClass, it.Error)
		}
	}
	if notSent == 0 || s.ByError["out_of_time"] < notSent {
		t.Errorf("%d items not sent, by_error %v; want them counted as out_of_time (the API saw %d requests)", notSent, s.ByError, served.Load())
	}
}
