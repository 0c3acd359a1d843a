package sluice

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// A Pool with a deadline stopped handing out items at the first one the
// gate said could not start in time, although, with costs of their own,
// the smaller ones after it could start at once: a 600-token prompt ended
// a run whose 10-token ones had room (outside review). Each is now
// refused or admitted on its own cost.
func TestPoolDeadlineRefusesOnlyTheItemsThatCannotStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &Pool[int, int]{
			Gate:    NewGate(NewTokenBudget(PerMinute(1000), AllTokens)),
			Workers: 1,
			Cost:    func(n int) Cost { return Cost{InputTokens: n} },
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		items := []int{600, 600, 10, 10, 10, 10, 10, 10}
		var ran []int
		results := slices.Collect(p.Run(ctx, slices.Values(items), func(_ context.Context, n int) (int, error) {
			ran = append(ran, n)
			return n, nil
		}))
		if len(results) != len(items) {
			t.Fatalf("%d results for %d items", len(results), len(items))
		}
		canceled := 0
		for _, r := range results {
			if r.Class == ClassCanceled {
				canceled++
			}
		}
		if want := []int{600, 10, 10, 10, 10, 10, 10}; !slices.Equal(ran, want) || canceled != 1 {
			t.Errorf("ran %v with %d refused for the deadline; want %v and the second 600 refused", ran, canceled, want)
		}
	})
}
