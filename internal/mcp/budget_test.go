package mcp

import (
	"testing"
	"time"
)

// An agent asking for more time than the server gives gets the server's
// budget, however large the number: 1e10 seconds overflowed a Duration
// and ended the call at once, every item out_of_time.
func TestTimeBudgetIsCappedNotOverflowed(t *testing.T) {
	server := 5 * time.Minute
	for _, tc := range []struct {
		seconds float64
		want    time.Duration
	}{
		{0, server},
		{0.25, 250 * time.Millisecond},
		{299, 299 * time.Second},
		{300, server},
		{1e9, server},
		{1e10, server},
		{1e300, server},
	} {
		got, err := timeBudget(server, tc.seconds)
		if err != nil || got != tc.want {
			t.Errorf("timeBudget(%v, %v) = %v, %v; want %v", server, tc.seconds, got, err, tc.want)
		}
	}
	if _, err := timeBudget(server, -1); err == nil {
		t.Error("timeBudget(-1): want an error")
	}
}
