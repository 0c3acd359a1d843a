package sluice

import (
	"math/rand/v2"
	"testing"
	"time"
)

// lagDriver takes units one after another from a RateLimiter the way a
// Gate's front waiter does, on the limiter's clock and with no real
// sleeping: a caller refused for wait comes back wait later plus a lag,
// and says that lag as late; a caller admitted is followed at once by the
// next, which has no lag to forgive.
type lagDriver struct {
	l     *RateLimiter
	now   int64 // limiter clock
	late  int64
	lag   func(held bool) time.Duration // the lag of the next wake-up; held: the wait was the ring's
	n     func() int                    // weight of the next take; nil: 1
	units []int64                       // virtual start of every unit taken (see lagRing)
}

// take takes one call and returns its start, limiter clock.
func (d *lagDriver) take() int64 {
	n := 1
	if d.n != nil {
		n = d.n()
	}
	for {
		tat := d.l.timeline()
		wait, _ := d.l.Take(Cost{Requests: n}, d.l.epoch.Add(time.Duration(d.now)), time.Duration(d.late))
		if wait == 0 {
			iv := int64(d.l.Rate().Interval())
			for j := range n {
				d.units = append(d.units, d.now+int64(j)*iv)
			}
			d.late = 0
			return d.now
		}
		held := d.now+int64(wait) > tat // the schedule alone would have let it start sooner
		lag := int64(d.lag(held))
		d.now += int64(wait) + lag
		d.late = lag
	}
}

// tightest returns the shortest span of k+1 consecutive units.
func tightest(units []int64, k int) int64 {
	best := int64(1 << 62)
	for i := k; i < len(units); i++ {
		best = min(best, units[i]-units[i-k])
	}
	return best
}

// A take forgiven its lag must not let a window's N+1 starts span less
// than N intervals: before the ring, a unit whose phase was late one
// window and on time the next started maxLate early (issue 15: 201
// admissions of a 200/s API in 1.0042 s of apiSafe's 1.006 s).
func TestRateLimiterLagKeepsWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate Rate
		n    int
	}{
		{"given 200/s", apiSafe(PerSecond(200)), 200},
		{"10/100ms", Rate{N: 10, Per: 100 * time.Millisecond}, 10},
		{"3/s", PerSecond(3), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			l := NewRateLimiter(tc.rate, 1)
			d := &lagDriver{l: l, lag: func(bool) time.Duration {
				return time.Duration(rng.Int64N(int64(maxLate) + 1))
			}}
			for range 20 * tc.n {
				d.take()
			}
			span := int64(tc.n) * int64(tc.rate.Interval())
			if got := tightest(d.units, tc.n); got < span || got < int64(tc.rate.Per) {
				t.Fatalf("tightest %d consecutive starts span %v, want at least %v (the period %v)",
					tc.n+1, time.Duration(got), time.Duration(span), tc.rate.Per)
			}
		})
	}
}

// The ring holds starts back only as much as the lateness it inherits:
// with every schedule wake-up late by up to maxLate, M starts take no
// longer than M intervals plus maxLate (the ring's own waits woken on
// time), and when those waits lag too, a timer's lag a window at most.
func TestRateLimiterLagKeepsThroughput(t *testing.T) {
	r := apiSafe(PerSecond(200))
	iv := int64(r.Interval())
	const m = 4000 // 20 windows
	for _, tc := range []struct {
		name    string
		heldLag bool
		most    int64
	}{
		{"ring waits on time", false, int64(maxLate)},
		{"ring waits lag", true, m / 200 * int64(maxLate)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			d := &lagDriver{l: NewRateLimiter(r, 1), lag: func(held bool) time.Duration {
				if held && !tc.heldLag {
					return 0
				}
				return time.Duration(rng.Int64N(int64(maxLate) + 1))
			}}
			first := d.take()
			for range m - 1 {
				d.take()
			}
			took := d.units[len(d.units)-1] - first
			if over := took - (m-1)*iv; over > tc.most {
				t.Errorf("%d starts took %v, %v over the schedule's %v; want at most %v over",
					m, time.Duration(took), time.Duration(over), time.Duration((m-1)*iv), time.Duration(tc.most))
			} else {
				t.Logf("%d starts took %v over the schedule's %v", m, time.Duration(over), time.Duration((m-1)*iv))
			}
		})
	}
}
