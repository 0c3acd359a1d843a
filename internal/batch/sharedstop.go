package batch

import (
	"errors"
	"fmt"

	"github.com/sluicehq/sluice"
)

// sharedStop is why a run stops when the library classes an item's error
// sluice.ClassSharedUnavailable: its shared limits' store cannot be
// reached and refuses then (sluice run --redis-mode closed). It gives the
// store's own words (which store, and why): the innermost error still of
// that class, without the wrapping of the request that carried it.
func sharedStop(err error) error {
	for next := errors.Unwrap(err); next != nil && sluice.ClassOf(next) == sluice.ClassSharedUnavailable; next = errors.Unwrap(err) {
		err = next
	}
	return fmt.Errorf("%w and --redis-mode closed; nothing more sent", err)
}
