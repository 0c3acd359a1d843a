package sluice

import (
	"io"
	"math"
	"net/http"
	"sync"
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

// sluice mcp's stack: a host's window in a Transport whose Base is the
// global gate's GateTransport, and two tool calls sending through it at
// once, each item from a goroutine of its own (an outside tester's two
// fetch_many calls of 150 URLs at --window 20/1s, -c 8). The window dates
// each call when net/http has written it, through the GateTransport's own
// trace, so that at a strict 20-a-second API, over connections that take
// 0-99 ms to open, every 21 arrivals span a window and the margin; and the
// calls are not counted from their response, which would cost every
// window the API's latency. (The tester's judge, node, stamped arrivals
// 9-34 ms late on a loaded machine; the kernel's stamps of the same
// packets kept 1006 ms: on a fake clock, this holds to the nanosecond.)
func TestTransportOverGateTransportKeepsAHostWindowAtTheAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const calls, items, limit, latency, slowestDial = 2, 150, 20, 100 * time.Millisecond, 99 * time.Millisecond
		api := &apitest.Server{Limit: limit, Window: time.Second, Latency: latency}
		piped := startPipedAPI(api, func(n int32) time.Duration { return time.Duration(n*7919%100) * time.Millisecond }, 7)
		host := Limits{Window: PerSecond(limit), Concurrency: 8}
		global := Limits{Concurrency: 32, FixedConcurrency: true}
		base := piped.base(global)
		tr := &Transport{Base: &GateTransport{Gate: global.NewGate(), Base: base}, Limits: host}
		client := &http.Client{Transport: tr}
		begin := time.Now()
		var wg sync.WaitGroup
		for range calls {
			wg.Go(func() { getAll(t, client, "http://api.test/", items, items) })
		}
		wg.Wait()
		took := time.Since(begin)
		base.CloseIdleConnections()
		piped.stop()
		if c := api.Counts(); c.Throttled() != 0 || c.Requests != calls*items {
			t.Errorf("%d requests, %d refused; want %d, none", c.Requests, c.Throttled(), calls*items)
		}
		piped.mu.Lock()
		arrivals := piped.arrivals
		piped.mu.Unlock()
		tightest := time.Duration(math.MaxInt64)
		for i := limit; i < len(arrivals); i++ {
			tightest = min(tightest, arrivals[i].Sub(arrivals[i-limit]))
		}
		if want := time.Second + maxMargin; tightest < want {
			t.Errorf("the tightest %d arrivals span %v, want at least %v: a window and its margin", limit+1, tightest, want)
		}
		// The last window opens 14 windows (with the margin) after the
		// first call left; its 20 calls take 3 rounds of 8, each a dial
		// and the latency at most. Counted from their response, every
		// window would be longer by the latency: 1.4 s in all.
		windows := calls*items/limit - 1
		if want := time.Duration(windows)*(time.Second+maxMargin) + 4*(slowestDial+latency); took > want {
			t.Errorf("%d calls took %v, want at most %v", calls*items, took, want)
		}
	})
}
