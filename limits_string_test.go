package sluice_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

func TestLimitsString(t *testing.T) {
	for _, c := range []struct {
		l    sluice.Limits
		want string
	}{
		{sluice.Limits{}, "concurrency 8 (adaptive), rate learned from the API's headers"},
		{sluice.Limits{Concurrency: 4, FixedConcurrency: true, Rate: sluice.PerSecond(10), Burst: 3},
			"concurrency 4, rate 10/s, burst 3"},
		{sluice.Limits{Rate: sluice.PerMinute(3000), Burst: 1, Window: sluice.Rate{N: 100, Per: 10 * time.Second}, Tokens: sluice.PerMinute(40000), InputTokens: sluice.PerMinute(30000), OutputTokens: sluice.PerMinute(8000)},
			"concurrency 8 (adaptive), rate 3000/m, window 100/10s, tokens 40000/m, input tokens 30000/m, output tokens 8000/m"},
	} {
		if got := c.l.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.l, got, c.want)
		}
	}
}

// String is how sluice's start lines name the limits in force.
func ExampleLimits_String() {
	l := sluice.Limits{Concurrency: 16, Rate: sluice.PerMinute(3000), Tokens: sluice.PerMinute(40000)}
	fmt.Println(l)
	// Output: concurrency 16 (adaptive), rate 3000/m, tokens 40000/m
}
