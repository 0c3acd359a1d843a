package mcp

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestHost429PausesThatHostAlone: host A answers its first request with
// 429 and Retry-After: 1; host B is healthy. A waits out its second,
// while B's requests all go through in the meantime.
func TestHost429PausesThatHostAlone(t *testing.T) {
	var mu sync.Mutex
	var log []string
	first := true
	throttled := make(chan struct{}) // B answers only once A has said 429
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if first {
			first = false
			log = append(log, "A 429")
			close(throttled)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		log = append(log, "A")
		fmt.Fprint(w, "a")
	}))
	defer a.Close()
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-throttled
		mu.Lock()
		log = append(log, "B")
		mu.Unlock()
		fmt.Fprint(w, "b")
	}))
	defer b.Close()
	hostA := strings.TrimPrefix(a.URL, "http://")
	cfg := Config{AllowPrivate: true, HostLimits: map[string]sluice.Limits{hostA: {Concurrency: 1}}}
	srv, cs := session(t, cfg, nil)
	var list []string
	for i := range 10 {
		list = append(list, fmt.Sprintf("%s/%d", a.URL, i), fmt.Sprintf("%s/%d", b.URL, i))
	}
	rep, _ := callTool(t, cs, "fetch_many", map[string]any{"urls": list, "page_size": 1})
	if s := rep.Summary; s.Succeeded != 20 || s.ByStatus["200"] != 20 {
		t.Errorf("summary %+v; want all 20 succeeded, A's first after a retry", s)
	}
	mu.Lock()
	defer mu.Unlock()
	at429, firstAAfter := -1, -1
	bs := 0
	for i, e := range log {
		switch {
		case e == "A 429":
			at429 = i
		case e == "A" && at429 >= 0 && firstAAfter < 0:
			firstAAfter = i
		case e == "B":
			bs++
		}
	}
	if at429 < 0 || firstAAfter < 0 {
		t.Fatalf("log %v: no 429 then A", log)
	}
	bsBefore := 0
	for _, e := range log[:firstAAfter] {
		if e == "B" {
			bsBefore++
		}
	}
	if bsBefore != 10 {
		t.Errorf("only %d of B's 10 requests went through while A was paused; log %v", bsBefore, log)
	}
	if p := srv.transport.Gate(hostA).Stats().Pauses; p < 1 {
		t.Errorf("A's gate paused %d times, want at least 1", p)
	}
	if p := srv.transport.Gate(strings.TrimPrefix(b.URL, "http://")).Stats().Pauses; p != 0 {
		t.Errorf("B's gate paused %d times, want 0", p)
	}
}
