package sluice

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// A retry keeps its call's place in line: a call refused with 429 and
// Retry-After goes again, at the pause's end, before the calls that came
// after it. An outside review: a proxy's two 429ed calls waited behind
// four later ones for 25 s and were handed back their stale 429.
func TestARetryKeepsItsTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var order []string
		tries := map[string]int{}
		tr := &Transport{Limits: Limits{Concurrency: 1, FixedConcurrency: true}, Base: roundTripFunc(func(req *http.Request) (*http.Response, error) {
			name := strings.TrimPrefix(req.URL.Path, "/")
			mu.Lock()
			order = append(order, name)
			tries[name]++
			first := tries[name] == 1
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
			if name == "a" && first {
				return &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"1"}}, Body: io.NopCloser(strings.NewReader("slow down")), Request: req}, nil
			}
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
		})}
		c := &http.Client{Transport: tr}
		var wg sync.WaitGroup
		for _, name := range []string{"a", "b", "c", "d"} {
			wg.Go(func() {
				resp, err := c.Get("http://api.test/" + name)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
			synctest.Wait() // a is admitted first, then b and c join the line in turn
		}
		wg.Wait()
		// b may go at the pause's end, as a's retry joins the line; c
		// and d, which came after a, may not go before it.
		if got := strings.Join(order, " "); got != "a a b c d" && got != "a b a c d" {
			t.Errorf("the upstream got %s, want a's retry before c and d, which came after it", got)
		}
	})
}
