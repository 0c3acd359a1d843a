package mcp

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestLongCallRepliesWithItsHandleAndGoesOn: a synchronous fetch_many
// still running at the reply bound replies with its handle and state
// running (clients give up on requests after a while, and the work would
// be lost to the agent); the fetches go on and get_results reads them.
func TestLongCallRepliesWithItsHandleAndGoesOn(t *testing.T) {
	release := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow/") {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprint(w, "done")
	}))
	t.Cleanup(api.Close)
	// The reply bound must leave the two fast items time to finish on a
	// loaded machine under -race: 100ms once saw one of them pending.
	_, cs := session(t, Config{AllowPrivate: true, Host: roomForAll.Host, ReplyWithin: 2 * time.Second}, nil)
	list := append(urls(api.URL+"/fast", 2), urls(api.URL+"/slow", 3)...)
	rep, res := callTool(t, cs, "fetch_many", map[string]any{"urls": list})
	s := rep.Summary
	if s.State != stateRunning || s.Succeeded != 2 || s.Pending != 3 {
		t.Fatalf("at the reply bound: %+v, want running with 2 done and 3 pending", s)
	}
	if text := textOfResult(res); !strings.Contains(text, "get_results handle="+s.Handle) {
		t.Errorf("the reply does not say how to read the rest: %s", text)
	}
	close(release)
	waitFor(t, func() bool {
		r, _ := callTool(t, cs, "get_results", map[string]any{"handle": s.Handle})
		return r.Summary.State == stateDone
	})
	r, _ := callTool(t, cs, "get_results", map[string]any{"handle": s.Handle})
	if r.Summary.Succeeded != 5 {
		t.Errorf("after the call went on: %+v, want 5 succeeded", r.Summary)
	}
}
