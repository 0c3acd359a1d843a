package sluice_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice"
)

// A call that asks more than a limit could ever admit fails at once,
// taking nothing, rather than starting into a debt that would hold back
// every call after it.
func ExampleTooLargeError() {
	gate := sluice.Limits{Tokens: sluice.PerMinute(10000)}.NewGate()
	_, err := gate.Acquire(context.Background(), sluice.Cost{InputTokens: 500, OutputTokens: 20000})
	var tooLarge *sluice.TooLargeError
	if errors.As(err, &tooLarge) {
		fmt.Println(errors.Is(err, sluice.ErrTooLarge), sluice.ClassOf(err))
		fmt.Println(tooLarge.Capacity.Asked(tooLarge.Cost), tooLarge.Capacity.Units(), "asked of", tooLarge.Capacity.Max)
		fmt.Println(err)
	}
	// Output:
	// true fatal
	// 20500 tokens asked of 10000
	// sluice: this call asks 20500 tokens, more than the token budget of 10000/m could ever admit (10000 at most)
}
