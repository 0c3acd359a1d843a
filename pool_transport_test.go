package sluice

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/sluicehq/sluice/internal/apitest"
)

// A Pool whose items call a Transport (the README's batch shape) retried
// what the Transport had already retried: one item failing for good
// reached the API 81 times, nine times nine (outside review). The
// Transport's policy is in charge of its calls: once it has run its
// retries, the Pool does not run them again.
func TestPoolDoesNotRetryWhatATransportRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &apitest.Server{Status: 500}
		tr := &Transport{Base: apitest.RoundTripper{Handler: api}}
		pool := &Pool[int, int]{Gate: Limits{Concurrency: 4}.NewGate(), Workers: 4}
		get := transportGet(tr)
		const items = 3
		failed := 0
		for r := range pool.Run(t.Context(), slices.Values([]int{0, 1, 2}), get) {
			if r.Err != nil {
				failed++
			}
			if r.Attempts != 1 {
				t.Errorf("item %d: %d Pool attempts; want 1, the Transport having retried", r.Index, r.Attempts)
			}
		}
		if failed != items {
			t.Errorf("%d of %d items failed; want all", failed, items)
		}
		if n, most := api.Counts().Requests, int64(items*DefaultMaxAttempts); n > most {
			t.Errorf("the API saw %d attempts for %d items; want at most %d, the Transport's own", n, items, most)
		}
	})
}

// transportGet is a Pool fn as the README writes it: a GET of item i
// through tr with the item's context, a non-200 answer an error of its
// class.
func transportGet(tr *Transport) func(ctx context.Context, i int) (int, error) {
	return func(ctx context.Context, i int) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://api.test/%d", i), nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return 0, &StatusError{Status: resp.StatusCode, Class: Classify(resp.StatusCode, resp.Header, nil, nil)}
		}
		return resp.StatusCode, nil
	}
}
