package sluice_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
)

// A caller whose deadline comes before the admission the limits predict is
// refused at once and takes nothing: a maximum wait is a context timeout.
func ExampleWaitError() {
	gate := sluice.NewGate(sluice.NewRateLimiter(sluice.PerSecond(1), 1))
	first, _ := gate.Acquire(context.Background(), sluice.Cost{})
	defer first.Done(sluice.Outcome{})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := gate.Acquire(ctx, sluice.Cost{})
	var we *sluice.WaitError
	if errors.As(err, &we) {
		fmt.Println("refused at once; admission predicted in", we.Wait.Round(time.Second))
	}
	fmt.Println("a deadline error:", errors.Is(err, context.DeadlineExceeded))
	// Output:
	// refused at once; admission predicted in 1s
	// a deadline error: true
}
