package sluice

import (
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

// A paced call that leaves late reaches the API among the calls admitted
// after it: a rate met at admission is then broken at the API. The
// feedback benchmark's API (200 a sliding second, 10 in flight, 20ms a
// call) on a fake clock, over connections that take time to open:
//
//   - given: the second connection takes 10 ms to open, the others 1 ms;
//     its call and the next, 1 ms late on a new connection, arrived
//     among calls paced after them, 201 inside a second, and one was
//     refused;
//   - learned: three of the first calls, sent before the pace was
//     known, wait 60 ms for their connections and arrive after it was
//     learned, among the paced calls (the learned round's 429 of the
//     benchmark, issue 15);
//   - redials: the API closes a connection every 50 calls and the new
//     ones take 0-29 ms to open: calls leave late all through the batch.
//
// Each late call is charged again when it leaves (transport_sent.go),
// which costs at most an interval a connection opened (and one more);
// connections that open in 1 ms, within lateSend, cost nothing.
func TestTransportRateCountsACallThatLeftLate(t *testing.T) {
	const n, limit, latency = 1000, 200, 20 * time.Millisecond
	given, learned := Limits{Rate: PerSecond(limit), Concurrency: 10}, Limits{}
	tests := []struct {
		name     string
		limits   Limits
		dial     func(n int32) time.Duration // the nth connection's handshake
		closeAll int32                       // the API closes every closeAll-th call's connection; 0: none
	}{
		{"given, quick connections", given, func(int32) time.Duration { return time.Millisecond }, 0},
		{"learned, quick connections", learned, func(int32) time.Duration { return time.Millisecond }, 0},
		{"given, one slow connection", given, func(n int32) time.Duration {
			if n == 2 {
				return 10 * time.Millisecond
			}
			return time.Millisecond
		}, 0},
		{"learned, three slow first connections", learned, func(n int32) time.Duration {
			if n >= 2 && n <= 4 {
				return 60 * time.Millisecond
			}
			return time.Millisecond
		}, 0},
		{"given, redials", given, func(n int32) time.Duration { return time.Duration(n*7919%30) * time.Millisecond }, 50},
		{"learned, redials", learned, func(n int32) time.Duration { return time.Duration(n*7919%30) * time.Millisecond }, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				api := &apitest.Server{Limit: limit, Window: time.Second, Concurrency: 10, Latency: latency, Headers: true, RetryAfter: true}
				piped := startPipedAPI(api, tt.dial, tt.closeAll)
				base := piped.base(tt.limits)
				tr := &Transport{Limits: tt.limits, Base: base}
				took := getAll(t, &http.Client{Transport: tr}, "http://api.test/", n, 64)
				tr.CloseIdleConnections()
				piped.stop()
				if c := api.Counts(); c.Throttled() != 0 {
					t.Errorf("%d 429s at the API (%d over the rate)", c.Throttled(), c.OverRate)
				}
				piped.checkArrivals(t, limit)
				iv := apiSafe(PerSecond(limit)).Interval()
				if strings.HasSuffix(tt.name, "quick connections") {
					// Nothing left late: nothing charged again, which would
					// cost an interval. (Learned, a call on a new connection
					// late in the batch can add its millisecond.)
					if most := (n-1)*iv + latency + time.Millisecond; took > most {
						t.Errorf("%d calls took %v, want at most %v: no call left late", n, took, most)
					}
					return
				}
				opened := time.Duration(piped.pn.dials.Load())
				// A first call charged at its start and again when it left
				// late can cost a second interval.
				if most := (n-1)*iv + latency + (opened+1)*iv; took > most {
					t.Errorf("%d calls took %v, want at most %v: the paced minimum and an interval for each of the %d connections opened, and one more", n, took, most, opened)
				}
			})
		})
	}
}
