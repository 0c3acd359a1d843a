package sluice

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// A limit shared by two gates (or settled by a Permit while a gate tries)
// gives back exactly what a refused attempt took: afterwards it is as if
// the attempt had never been made, whatever happened in between. The
// gate's try takes and untakes within one hold of its mutex, so these
// drive take and untake directly to put the other operations in between.
func TestRefusedAttemptGivesBackExactlyWhatItTook(t *testing.T) {
	type limit interface {
		Limit
		SetRate(Rate)
	}
	cost := Cost{Requests: 3, InputTokens: 30}
	for _, tc := range []struct {
		name    string
		late    time.Duration             // the refused attempt's timer lag
		between func(l limit, twin limit) // done to both, between take and untake
		cost    *Cost                     // the refused attempt's cost, when not cost
	}{
		{"another gate charges", 0, func(l, _ limit) {
			l.Take(Cost{Requests: 5, InputTokens: 50}, time.Time{}, 0)
		}, nil},
		// The late take clips the idle timeline to now less its lag, and
		// costs less than the lag, so the other gate's charge clips again
		// and the give-back must see that. (A late take costing more than
		// its lag, from an idle bucket, gives back up to the lag too much
		// when another charge lands on top of it unclipped: within the
		// lag a Gate forgives anyway, and never more than maxLate.)
		{"another gate charges after a late take", maxLate, func(l, _ limit) {
			l.Take(Cost{Requests: 1, InputTokens: 10}, time.Time{}, 0)
		}, &Cost{Requests: 1, InputTokens: 1}},
		{"a permit settles", 0, func(l, _ limit) {
			if b, ok := l.(*TokenBudget); ok {
				b.Settle(50, 20)
			}
		}, nil},
		{"another gate charges, then a permit settles", 0, func(l, _ limit) {
			l.Take(Cost{Requests: 5, InputTokens: 50}, time.Time{}, 0)
			if b, ok := l.(*TokenBudget); ok {
				b.Settle(50, 80)
			}
		}, nil},
		{"the rate changes", 0, func(l, _ limit) {
			l.Take(Cost{Requests: 5, InputTokens: 50}, time.Time{}, 0)
			l.SetRate(PerSecond(250))
		}, nil},
		{"the rate changes to no limit and back", 0, func(l, _ limit) {
			l.SetRate(Rate{})
			l.SetRate(PerSecond(1000))
		}, nil},
	} {
		for _, kind := range []string{"RateLimiter", "TokenBudget"} {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					newLimit := func() limit {
						if kind == "RateLimiter" {
							return NewRateLimiter(PerSecond(1000), 100)
						}
						return NewTokenBudget(PerSecond(1000), InputTokens)
					}
					l, twin := newLimit(), newLimit()
					for _, x := range []limit{l, twin} {
						x.Take(Cost{Requests: 20, InputTokens: 200}, time.Time{}, 0) // some earlier use
					}
					time.Sleep(100 * time.Millisecond) // partly refilled
					cost := cost
					if tc.cost != nil {
						cost = *tc.cost
					}
					_, mark := l.Take(cost, time.Time{}, tc.late)
					tc.between(l, twin)
					l.Untake(cost, mark)
					tc.between(twin, nil)
					if got, want := bucketOf(l).level(), bucketOf(twin).level(); got != want {
						t.Errorf("after the refused attempt, the bucket is full up to %v, want %v as if it had never tried", got, want)
					}
				})
			})
		}
	}
}

// bucketOf returns the RateLimiter that keeps l's level.
func bucketOf(l Limit) *RateLimiter {
	if b, ok := l.(*TokenBudget); ok {
		return &b.bucket
	}
	return l.(*RateLimiter)
}

// level is how far ahead of now the bucket's timeline runs: 0 when full.
func (l *RateLimiter) level() time.Duration {
	return time.Duration(max(l.tat.Load()-l.now(), 0))
}

// A SetRate racing charges and refunds re-times each of them once: none is
// worked out at the old pace and applied to the re-timed timeline. Equal
// charges and refunds at rates a power of two apart must leave the
// timeline exactly where it began.
func TestSetRateRacingChargesKeepsEachAtItsPace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewTokenBudget(PerSecond(1000), AllTokens)
		b.Settle(0, 3000) // far ahead of now, within maxDebtPeriods at either rate: no charge clips
		before := b.bucket.tat.Load()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 2000 {
					b.Settle(0, 7)
					b.Settle(7, 0)
				}
			})
		}
		wg.Go(func() {
			for i := range 2000 {
				if i%2 == 0 {
					b.SetRate(PerSecond(500))
				} else {
					b.SetRate(PerSecond(1000))
				}
			}
		})
		wg.Wait()
		if got := b.bucket.tat.Load(); got != before {
			t.Errorf("after balanced charges and refunds, the timeline moved by %v", time.Duration(got-before))
		}
	})
}
