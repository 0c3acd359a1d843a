package sluice

import (
	"context"
	"fmt"
	"time"
)

// A WaitError is returned by Gate.Acquire when the caller's deadline comes
// before the admission its limits predict. Nothing was taken. Wait is the
// predicted wait, a lower bound: a proxy can send it as Retry-After.
type WaitError struct {
	Wait time.Duration
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("sluice: admission in %v would exceed the context deadline", e.Wait.Round(time.Microsecond))
}

// Timeout reports true: a WaitError stands for the deadline, as
// os.IsTimeout and callers of net.Error's Timeout expect.
func (e *WaitError) Timeout() bool { return true }

// Is makes a WaitError match ErrWouldExceedDeadline and
// context.DeadlineExceeded, so callers that check for a deadline see one.
func (e *WaitError) Is(target error) bool {
	return target == ErrWouldExceedDeadline || target == context.DeadlineExceeded
}
