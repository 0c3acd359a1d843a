// Package storetest has sluice.Stores for the faces' tests: stores that
// behave as a shared store does in its rare states, with no server.
package storetest

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
)

// DownStore is a sluice.Store whose shared limits are unreachable and
// told to refuse then, as package redis's Closed mode is while Redis is
// down: every admission after the first UpFor fails at once with ErrDown,
// which matches sluice.ErrSharedUnavailable (and nothing else the faces
// know). It needs no Redis, so the faces' tests can show they answer the
// library's classification, not a store's own error. The admissions it
// grants limit nothing. Asked counts admissions.
type DownStore struct {
	UpFor int64
	Asked atomic.Int64
}

// Share implements sluice.Store.
func (s *DownStore) Share(key string, l sluice.Limits) sluice.Shared { return downShared{s} }

// ErrDown is the error DownStore's admissions return: its own sentinel,
// which matches sluice.ErrSharedUnavailable.
var ErrDown error = downError{}

type downError struct{}

func (downError) Error() string { return "the shared limits (a test store) cannot be reached" }

func (downError) Is(target error) bool { return target == sluice.ErrSharedUnavailable }

type downShared struct{ s *DownStore }

func (d downShared) Admit(ctx context.Context, c sluice.Cost) (sluice.Ticket, time.Duration, error) {
	if d.s.Asked.Add(1) <= d.s.UpFor {
		return ticket{}, 0, nil
	}
	return nil, 0, ErrDown
}

type ticket struct{}

func (ticket) Finish(sluice.Outcome) {}

func (downShared) Changed() <-chan struct{} { return nil }
func (downShared) Pause(time.Time)          {}
func (downShared) Learn(sluice.Limits)      {}
