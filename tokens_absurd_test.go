package sluice

import (
	"math"
	"testing"
	"testing/synctest"
	"time"
)

// One response that reports absurd usage (a gateway summing a whole
// conversation, a hostile upstream, a bug) must not stop a budget for
// years: a settlement leaves the timeline at most ten periods ahead, so
// the budget admits again within ten periods (outside
// review: 999,999,999,999 reported tokens at 100,000/min locked a
// Transport's gate for 166,683 hours).
func TestSettleOfAbsurdUsageOwesAtMostAPeriod(t *testing.T) {
	for _, used := range []int{5_000_000, 999_999_999_999, math.MaxInt} {
		synctest.Test(t, func(t *testing.T) {
			b := NewTokenBudget(PerMinute(100_000), AllTokens)
			b.AllowN(10)
			b.Settle(10, used)
			b.Settle(10, used) // twice: debts do not pile up past the cap either
			begin := time.Now()
			if err := b.Wait(t.Context(), 1_000); err != nil {
				t.Fatal(err)
			}
			if got := time.Since(begin); got > 10*time.Minute {
				t.Errorf("after %d tokens reported at 100000/m, 1000 tokens waited %v, want at most 10m", used, got)
			}
		})
	}
}
