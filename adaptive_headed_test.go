package sluice

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// slowBody ends after d, as a streamed answer does.
type slowBody struct{ d time.Duration }

func (b slowBody) Read([]byte) (int, error) { time.Sleep(b.d); return 0, io.EOF }
func (slowBody) Close() error               { return nil }

// Slow start grew the ceiling by one per call that ended, so with
// 3-second streams it sat at its start (8) for the first 3 s and reached
// 50 only after 9 s, though the API took every call at once (outside
// review: 100 streams at 9/s took 19.9 s, 15.2 s with the ceiling fixed).
// A healthy status now counts when it comes: within the first second,
// with the API answering headers at once, the ceiling is the top.
func TestSlowStartGrowsWhenHealthyHeadersComeNotWhenStreamsEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var inFlight, peak atomic.Int32
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			n := inFlight.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: slowBody{3 * time.Second}, Request: req}, nil
		})
		client := &http.Client{Transport: &Transport{Base: base, Limits: Limits{Concurrency: 50}}}
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				req, _ := http.NewRequestWithContext(context.Background(), "POST", "http://api.test/v1/messages", nil)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				inFlight.Add(-1)
			})
		}
		time.Sleep(time.Second)
		if got := peak.Load(); got < 50 {
			t.Errorf("%d streams in flight after 1s; want the top, 50: the API took every call", got)
		}
		wg.Wait()
	})
}

// A call that grew the ceiling at its headers does not grow it again at
// its end: slow start still doubles per round trip, not more.
func TestHeadedCallsCountOnceInSlowStart(t *testing.T) {
	a := NewAdaptiveLimit(1, 64)
	g := NewGate(a)
	var ps []*Permit
	for range 8 {
		p, err := g.Acquire(context.Background(), Cost{})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		p.responded()
	}
	if got := a.Ceiling(); got != 16 {
		t.Fatalf("ceiling %d after 8 healthy headers from 8; want 16", got)
	}
	for _, p := range ps {
		p.Done(Outcome{Latency: 100 * time.Millisecond})
	}
	if got := a.Ceiling(); got != 16 {
		t.Errorf("ceiling %d after those 8 ended; want still 16 (counted at their headers)", got)
	}
}
