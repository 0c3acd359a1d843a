package sluice

import (
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

// A GateTransport keeps its gate's pace at the API when calls leave late:
// a strict API of 200 a sliding second, paced at 200/s by one gate over
// connections that take 0-29 ms to open (the API closes every 50th), so
// that calls leave after calls admitted later. Counted from admission, as
// sluice mcp's global limit was, 201 arrived inside a second and the API
// refused (an outside review: 1-7 violations over five hosts).
func TestGateTransportKeepsThePaceAtTheAPI(t *testing.T) {
	const n, limit = 1000, 200
	for _, tc := range []struct {
		name   string
		limits Limits
	}{
		{"rate", Limits{Rate: PerSecond(limit), Concurrency: 10}},
		{"window", Limits{Window: PerSecond(limit), Concurrency: 10}},
	} {
		limits := tc.limits
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				api := &apitest.Server{Limit: limit, Window: time.Second, Concurrency: 10, Latency: 20 * time.Millisecond}
				piped := startPipedAPI(api, func(n int32) time.Duration { return time.Duration(n*7919%30) * time.Millisecond }, 50)
				base := piped.base(limits)
				gt := &GateTransport{Gate: limits.NewGate(), Base: base}
				getAll(t, &http.Client{Transport: gt}, "http://api.test/", n, 64)
				base.CloseIdleConnections()
				piped.stop()
				if c := api.Counts(); c.Throttled() != 0 {
					t.Errorf("%d 429s at the API (%d over the rate)", c.Throttled(), c.OverRate)
				}
				piped.checkArrivals(t, limit)
				if st := gt.Gate.Stats(); st.InFlight != 0 {
					t.Errorf("%d calls still in flight after every body was closed", st.InFlight)
				}
			})
		})
	}
}

// A GateTransport holds a call's admission until its body ends, and lets
// it go for a failed send and an empty body.
func TestGateTransportHoldsTheSlotUntilTheBodyEnds(t *testing.T) {
	fail := false
	gt := &GateTransport{Gate: NewGate(NewSemaphore(1)), Base: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if fail {
			return nil, io.ErrUnexpectedEOF
		}
		if req.Method == http.MethodHead {
			return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
		}
		return &http.Response{StatusCode: 200, Body: io.NopCloser(io.LimitReader(zeros{}, 10)), Request: req}, nil
	})}
	req, _ := http.NewRequest("GET", "http://api.test/", nil)
	resp, err := gt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := gt.Gate.Stats().InFlight; got != 1 {
		t.Errorf("in flight with the body unread: %d, want 1", got)
	}
	io.Copy(io.Discard, resp.Body)
	if got := gt.Gate.Stats().InFlight; got != 0 {
		t.Errorf("in flight once the body was read to its end: %d, want 0", got)
	}
	resp.Body.Close() // a second end gives nothing back twice
	head, _ := http.NewRequest("HEAD", "http://api.test/", nil)
	if _, err := gt.RoundTrip(head); err != nil {
		t.Fatal(err)
	}
	fail = true
	if _, err := gt.RoundTrip(req); err == nil {
		t.Fatal("a failed send returned no error")
	}
	if got := gt.Gate.Stats().InFlight; got != 0 {
		t.Errorf("in flight after an empty body and a failed send: %d, want 0", got)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
