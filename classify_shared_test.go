package sluice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// storeDown is a store's own error for an outage in closed mode: it
// matches ErrSharedUnavailable, as package redis's does.
type storeDown struct{}

func (storeDown) Error() string        { return "the shared limits (a store) cannot be reached" }
func (storeDown) Is(target error) bool { return target == ErrSharedUnavailable }

// Shared limits that cannot be asked were nobody's class: ClassOf and
// Classify called the error transient, so a Pool or a Transport retried
// it with backoff, and each face had to recognise the sentinel itself
// (the proxy only when the command told it which error). It has a class
// of its own now, whatever wraps it, Permanent included.
func TestSharedUnavailableIsItsOwnClass(t *testing.T) {
	get := func(err error) error { return &url.Error{Op: "Post", URL: "https://api.example.com/v1", Err: err} }
	for _, err := range []error{
		ErrSharedUnavailable,
		storeDown{},
		get(storeDown{}),
		fmt.Errorf("sluice: call: %w", get(storeDown{})),
		Permanent(get(storeDown{})),
	} {
		if got := ClassOf(err); got != ClassSharedUnavailable {
			t.Errorf("ClassOf(%v) = %v, want shared-unavailable", err, got)
		}
		if got := Classify(0, nil, nil, err); got != ClassSharedUnavailable {
			t.Errorf("Classify(%v) = %v, want shared-unavailable", err, got)
		}
	}
	if c := ClassSharedUnavailable; c.String() != "shared-unavailable" || c.Retryable() {
		t.Errorf("%v: retryable %v; want shared-unavailable, not retried", c, c.Retryable())
	}
}

// A base transport that answers with the shared limits' outage (sluice
// mcp's global gate under a Transport) was retried as transient, each
// retry asking the store that is down.
func TestTransportDoesNotRetryWhenSharedLimitsAreUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		tr := &Transport{
			Base: roundTripFunc(func(*http.Request) (*http.Response, error) {
				calls.Add(1)
				return nil, storeDown{}
			}),
			Retry: RetryPolicy{MaxAttempts: 5},
		}
		var info RoundTripInfo
		req, _ := http.NewRequestWithContext(WithRoundTripInfo(t.Context(), &info), "GET", "http://a.example/", nil)
		_, err := tr.RoundTrip(req)
		if ClassOf(err) != ClassSharedUnavailable || info.Class != ClassSharedUnavailable {
			t.Errorf("error %v, class %v; want shared-unavailable", err, info.Class)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("%d attempts, want 1", n)
		}
	})
}

// A Pool's function reporting the outage is not retried either.
func TestPoolDoesNotRetryWhenSharedLimitsAreUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &Pool[int, int]{Workers: 1, Retry: RetryPolicy{MaxAttempts: 5}}
		for r := range p.Run(t.Context(), slices.Values([]int{1}), func(context.Context, int) (int, error) {
			return 0, fmt.Errorf("call: %w", storeDown{})
		}) {
			if r.Attempts != 1 || r.Class != ClassSharedUnavailable || !errors.Is(r.Err, ErrSharedUnavailable) {
				t.Errorf("%d attempts, class %v, error %v; want 1 attempt, shared-unavailable", r.Attempts, r.Class, r.Err)
			}
		}
	})
}
