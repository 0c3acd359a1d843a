package sluice

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestErrWouldExceedDeadlineMatchesDeadlineExceeded(t *testing.T) {
	for _, err := range []error{ErrWouldExceedDeadline, fmt.Errorf("wrapped: %w", ErrWouldExceedDeadline)} {
		if !errors.Is(err, ErrWouldExceedDeadline) {
			t.Errorf("errors.Is(%v, ErrWouldExceedDeadline) = false, want true", err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("errors.Is(%v, context.DeadlineExceeded) = false, want true", err)
		}
		if errors.Is(err, context.Canceled) {
			t.Errorf("errors.Is(%v, context.Canceled) = true, want false", err)
		}
	}
	if errors.Is(context.DeadlineExceeded, ErrWouldExceedDeadline) {
		t.Error("errors.Is(context.DeadlineExceeded, ErrWouldExceedDeadline) = true, want false")
	}
}
