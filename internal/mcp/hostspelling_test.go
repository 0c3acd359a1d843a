package mcp

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestHostLimitsHoldForEverySpellingOfTheHost: the operator limits
// LOCALHOST to one call at a time; an agent's URLs spell it localhost and
// LOCALHOST. Host names are case-insensitive, so both are the one host
// and its limit: a reviewer's agent ran VM beside vm at twice the limits.
func TestHostLimitsHoldForEverySpellingOfTheHost(t *testing.T) {
	var inFlight, most atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(5 * time.Millisecond) // long enough for a second call to overlap, were it let in
		fmt.Fprint(w, "ok")
	}))
	defer api.Close()
	port := api.URL[strings.LastIndexByte(api.URL, ':'):]
	one := sluice.Limits{Concurrency: 1, FixedConcurrency: true}
	_, cs := session(t, Config{AllowPrivate: true, HostLimits: map[string]sluice.Limits{"LOCALHOST": one}}, nil)
	var list []string
	for i := range 6 {
		list = append(list, fmt.Sprintf("http://localhost%s/%d", port, i), fmt.Sprintf("http://LOCALHOST%s/%d", port, i))
	}
	rep, _ := callTool(t, cs, "fetch_many", map[string]any{"urls": list, "page_size": 1})
	if rep.Summary.Succeeded != len(list) {
		t.Fatalf("summary %+v, want all %d succeeded", rep.Summary, len(list))
	}
	if m := most.Load(); m != 1 {
		t.Errorf("the host had %d calls in flight at once, want 1: each spelling got a limit of its own", m)
	}
}
