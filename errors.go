package sluice

import "context"

// ErrWouldExceedDeadline is returned by a Wait or Acquire whose context's
// deadline comes before the limit could admit the call. Such a wait fails
// at once and takes nothing, so the callers behind it are not held up by a
// wait that was bound to fail (as golang.org/x/time/rate does).
//
// It also matches context.DeadlineExceeded under errors.Is, so callers
// that only check for an expired deadline keep working.
var ErrWouldExceedDeadline error = wouldExceedDeadline{}

// wouldExceedDeadline is ErrWouldExceedDeadline's type: a comparable empty
// struct, so errors.Is matches it by value, that also says it is a
// context.DeadlineExceeded.
type wouldExceedDeadline struct{}

func (wouldExceedDeadline) Error() string {
	return "sluice: wait would exceed the context's deadline"
}

// Is reports that the error is also a context.DeadlineExceeded.
func (wouldExceedDeadline) Is(target error) bool {
	return target == context.DeadlineExceeded
}

// Unwrap returns context.DeadlineExceeded, for code that unwraps by hand.
func (wouldExceedDeadline) Unwrap() error { return context.DeadlineExceeded }
