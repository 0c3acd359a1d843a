package redis

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// One response reporting absurd usage leaves the shared budget's timeline
// at most ten periods ahead, as in memory: it admits again within about a
// second here, not in years (outside review: 999,999,999,999 reported tokens
// stopped a gate for 166,683 hours).
func TestAbsurdUsageOwesAtMostAPeriod(t *testing.T) {
	for _, used := range []int{999_999_999_999, math.MaxInt} {
		st := newTestStore(t, sharedAddr(t), uniquePrefix(t), Options{})
		g := sluice.Limits{Tokens: sluice.Rate{N: 1000, Per: 100 * time.Millisecond}, Store: st}.NewGate()
		for range 2 { // twice: debts do not pile up past the bound either
			p, err := g.Acquire(context.Background(), sluice.Cost{InputTokens: 10})
			if err != nil {
				t.Fatal(err)
			}
			p.Done(sluice.Outcome{Usage: &sluice.Usage{InputTokens: used}})
		}
		// Releases go in the background: wait for both settlements
		// (two admissions, two finishes) to reach Redis.
		for st.Stats().RoundTrips < 4 {
			time.Sleep(time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		p, err := g.Acquire(ctx, sluice.Cost{InputTokens: 100})
		cancel()
		if err != nil {
			t.Fatalf("after %d tokens reported at 1000 a 100ms: %v", used, err)
		}
		p.Done(sluice.Outcome{})
	}
}
