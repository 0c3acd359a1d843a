package sluice

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// An API that said nothing of its limits for its first seconds and then
// starts to (say, only once a quota runs low) is heard within a few
// calls, although a gate that has heard nothing for a second searches
// only some of its successes for the headers (Permit.searchesHeaders).
func TestHeadersThatStartLateAreHeardWithinAFewCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		speaks := start.Add(3 * time.Second)
		tr := &Transport{Base: roundTripFunc(func(req *http.Request) (*http.Response, error) {
			h := http.Header{"Content-Type": {"application/json"}}
			if now := time.Now(); !now.Before(speaks) {
				h.Set("anthropic-ratelimit-requests-limit", "50")
				h.Set("anthropic-ratelimit-requests-remaining", "40")
				h.Set("anthropic-ratelimit-requests-reset", now.Add(30*time.Second).UTC().Format(time.RFC3339))
			}
			return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
		})}
		c := &http.Client{Transport: tr}
		get := func() {
			resp, err := c.Get("http://api.test/x")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		// Calls a millisecond and a nanosecond apart: their admissions'
		// low bits, which pick the searched successes, take every value.
		for time.Now().Before(speaks) {
			get()
			time.Sleep(time.Millisecond + time.Nanosecond)
		}
		if r := tr.Gate("api.test").LearnedRate(); !r.IsZero() {
			t.Fatalf("learned %v from an API that said nothing", r)
		}
		calls := 0
		for tr.Gate("api.test").LearnedRate().IsZero() {
			if calls == 2*topSampling {
				t.Fatalf("nothing learned in %d calls after the API started sending its limits", calls)
			}
			get()
			calls++
			time.Sleep(time.Millisecond + time.Nanosecond)
		}
		t.Logf("heard after %d calls", calls)
		if calls > topSampling {
			t.Errorf("heard the limits after %d calls, want at most %d", calls, topSampling)
		}
		// Once heard, every success is searched: the remaining count of
		// each is read (the pace follows it).
		g := tr.Gate("api.test")
		if !g.heard.Load() {
			t.Errorf("the gate learned, but does not say it heard")
		}
	})
}
