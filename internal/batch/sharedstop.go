package batch

import (
	"errors"
	"fmt"

	"github.com/sluicehq/sluice"
)

// sharedStop is why a run stops when its shared limits refuse a call
// because their store cannot be reached (sluice run --redis-mode closed):
// the store's own words (which store, and why), without the wrapping of
// the request that carried it.
func sharedStop(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if next := errors.Unwrap(e); next == nil || !errors.Is(next, sluice.ErrSharedUnavailable) {
			err = e
			break
		}
	}
	return fmt.Errorf("%w and --redis-mode closed; nothing more sent", err)
}
