package sluice

import (
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"
)

// lateness draws a timer's lag as a loaded machine shows it: mostly under
// a millisecond, often a few, now and then a long stall.
func lateness(rng *rand.Rand) time.Duration {
	switch x := rng.IntN(100); {
	case x < 60:
		return time.Duration(rng.Int64N(int64(time.Millisecond)))
	case x < 90:
		return time.Duration(rng.Int64N(int64(10 * time.Millisecond)))
	default:
		return time.Duration(rng.Int64N(int64(200 * time.Millisecond)))
	}
}

// frontWaiter takes from l as a Gate's front waiter does, each wake-up
// late by lateness, until units have started; now and then another limit
// refuses a take (given back), a call weighs several units, or the caller
// goes quiet. It returns the start of every unit, in order.
func frontWaiter(l *RateLimiter, rng *rand.Rand, units int) []time.Time {
	var starts []time.Time
	var late time.Duration
	for len(starts) < units {
		c := Cost{Requests: 1}
		if rng.IntN(10) == 0 {
			c.Requests = 2 + rng.IntN(3)
		}
		now := time.Now()
		wait, mark := l.Take(c, now, late)
		if wait > 0 {
			lag := lateness(rng)
			time.Sleep(wait + lag)
			late = lag
			continue
		}
		late = 0
		if rng.IntN(8) == 0 {
			l.Untake(c, mark) // another limit of the gate refused
			continue
		}
		for range c.Requests {
			starts = append(starts, now)
		}
		if rng.IntN(30) == 0 {
			time.Sleep(time.Duration(rng.Int64N(int64(400 * time.Millisecond)))) // a quiet spell
		} else {
			time.Sleep(time.Duration(rng.Int64N(int64(200 * time.Microsecond)))) // the hand-off
		}
	}
	return starts
}

// Catching up on a timer's lag must never put a window's count plus one
// of starts closer than the window plus networkJitter (what apiSafe's
// margin leaves once maxLate is taken off), whatever the lateness:
// checked over many seeds of random lag, weights, give-backs and quiet
// spells. The log of starts is what keeps it; without it (catching up
// alone) the first seeds already put 21 starts inside 1.004 s.
func TestCatchUpKeepsEveryWindowOfStartsApart(t *testing.T) {
	for seed := range 300 {
		synctest.Test(t, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 15))
			r := apiSafe(PerSecond(20))
			l := NewRateLimiter(r, 1)
			starts := frontWaiter(l, rng, 300)
			least := r.Per - maxLate
			for i := 0; i+20 < len(starts); i++ {
				if d := starts[i+20].Sub(starts[i]); d < least {
					t.Fatalf("seed %d: units %d to %d started within %v, want at least %v", seed, i, i+20, d, least)
				}
			}
		})
	}
}

// A timer's lag beyond maxLate used to be lost for good, every time: a
// batch paced at 20/s whose every fifth wake-up came 30 ms late took 28 ms
// longer per late wake-up, 100 starts 560 ms more than 99 intervals. A
// limiter that keeps a log catches up: the calls behind the late one
// start on schedule again. The log still holds the start a window after
// each late one back as far (maxLate less a window after that, and so
// on), and those wake up late too: 112 ms are lost, not 560.
func TestCatchUpMakesUpForLateWakeUps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := apiSafe(PerSecond(20))
		l := NewRateLimiter(r, 1)
		begin := time.Now()
		var late time.Duration
		wakes := 0
		for started := 0; started < 100; {
			wait, _ := l.Take(Cost{}, time.Now(), late)
			if wait > 0 {
				late = 0
				if wakes++; wakes%5 == 0 {
					late = 30 * time.Millisecond
				}
				time.Sleep(wait + late)
				continue
			}
			late = 0
			started++
		}
		took := time.Since(begin)
		if want := 99*r.Interval() + 150*time.Millisecond; took > want {
			t.Errorf("100 starts took %v, want at most %v: the lag was not made up", took, want)
		}
	})
}

// A give-back of a logged take leaves the limiter as it was: its start is
// gone from the log and its charge from the timeline, so the window's
// last unit is not held back by a call that never started.
func TestCatchUpUntakeGivesBackTheStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := Rate{N: 3, Per: time.Second}
		l, twin := NewRateLimiter(r, 1), NewRateLimiter(r, 1)
		for _, x := range []*RateLimiter{l, twin} {
			x.Take(Cost{}, time.Time{}, 0)
		}
		time.Sleep(400 * time.Millisecond)
		_, mark := l.Take(Cost{}, time.Time{}, 0)
		l.Untake(Cost{}, mark)
		if got, want := l.level(), twin.level(); got != want {
			t.Errorf("bucket full up to %v after the give-back, want %v", got, want)
		}
		time.Sleep(400 * time.Millisecond)
		for _, x := range []*RateLimiter{l, twin} {
			x.Take(Cost{}, time.Time{}, 0)
		}
		g, gt := l.params.Load().starts.Load(), twin.params.Load().starts.Load()
		if g.seq != gt.seq || g.at[(g.next+len(g.at)-1)%len(g.at)] != gt.at[(gt.next+len(gt.at)-1)%len(gt.at)] {
			t.Errorf("log after the give-back: %d units, the last at %v; want %d, at %v", g.seq, g.last, gt.seq, gt.last)
		}
	})
}

// A stall that made a timer late may have held back the send of the call
// admitted just before it too: at the API it arrives with the ones that
// catch up after the stall. The old pace, slipping by the stall, kept the
// start a window after that call no sooner than the window less an
// interval after the late take; catching up must keep it as far.
func TestCatchUpKeepsTheWindowAfterAStalledSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := apiSafe(PerSecond(20))
		l := NewRateLimiter(r, 1)
		var starts []time.Time
		var late time.Duration
		var stalled time.Time // the late take
		for len(starts) < 60 {
			wait, _ := l.Take(Cost{}, time.Now(), late)
			if wait > 0 {
				late = 0
				if len(starts) == 30 {
					late = 50 * time.Millisecond
				}
				time.Sleep(wait + late)
				continue
			}
			if late > 0 {
				stalled = time.Now()
			}
			late = 0
			starts = append(starts, time.Now())
		}
		sent := stalled.Add(-r.Interval()) // the call before, sent as late as the old pace allowed for
		if want := sent.Add(r.Per - maxLate); starts[29+20].Before(want) {
			t.Errorf("the start a window after the stalled call came %v after the late take, want at least %v", starts[29+20].Sub(stalled), want.Sub(stalled))
		}
	})
}
