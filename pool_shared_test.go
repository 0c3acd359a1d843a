package sluice_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/storetest"
)

// An item whose retry the shared limits' outage refused was yielded with
// its last attempt's class (transient) beside the outage's error, so a
// caller branching on Result.Class took it for a failed item. Its class
// is the outage's: nothing is wrong with it, try it again later.
func TestPoolItemWhoseRetryMeetsTheOutageIsSharedUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := sluice.Limits{Store: &storetest.DownStore{UpFor: 1}}.NewGate()
		p := &sluice.Pool[int, int]{Gate: gate, Workers: 1, Retry: sluice.RetryPolicy{MaxAttempts: 3}}
		for r := range p.Run(t.Context(), slices.Values([]int{1}), func(context.Context, int) (int, error) {
			return 0, errors.New("flaky") // transient: retried
		}) {
			if r.Attempts != 1 || r.Class != sluice.ClassSharedUnavailable || !errors.Is(r.Err, sluice.ErrSharedUnavailable) {
				t.Errorf("%d attempts, class %v, error %v; want 1 attempt, shared-unavailable", r.Attempts, r.Class, r.Err)
			}
		}
	})
}
