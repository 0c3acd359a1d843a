package sluice

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A Retry-After longer than the gate's MaxPause was cut to MaxPause and
// the call asked again, to be refused again, nine times (outside review).
// The answer comes back at once, RoundTripInfo.Err saying why.
func TestTransportDoesNotRetryBeforeALongRetryAfter(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(srv.Close)
	tr := &Transport{Limits: Limits{MaxPause: time.Second}}
	info := &RoundTripInfo{}
	req, _ := http.NewRequestWithContext(WithRoundTripInfo(t.Context(), info), "GET", srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var ra *RetryAfterError
	if resp.StatusCode != 429 || calls.Load() != 1 || !errors.As(info.Err, &ra) || ra.Wait != time.Hour || ra.MaxPause != time.Second {
		t.Errorf("status %d after %d calls, info.Err %v; want the 429 after one call, a RetryAfterError of 1h over 1s", resp.StatusCode, calls.Load(), info.Err)
	}
	if !errors.Is(info.Err, ErrRetryAfterTooLong) {
		t.Errorf("info.Err %v does not match ErrRetryAfterTooLong", info.Err)
	}
}
