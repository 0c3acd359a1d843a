package redis

import (
	"fmt"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice"
)

// In Local mode each of share processes paces its part of the rate.
// Their parts together must keep the API's window, not just its average:
// 10/s shared by three was 3.33/s each, a period of 300ms that lets 4
// starts into a second (0, 300, 600, 900ms), and three processes in step
// put 12 into one second of a 10/s limit (outside review: 429s from a
// strict API during an outage). Each process now keeps whole calls per
// window.
func TestLocalShareKeepsTheWindowTogether(t *testing.T) {
	for _, c := range []struct {
		rate  sluice.Rate
		share int
	}{
		{sluice.Rate{N: 10, Per: time.Second}, 3},
		{sluice.Rate{N: 10, Per: time.Second}, 4},
		{sluice.Rate{N: 100, Per: time.Second}, 7},
		{sluice.Rate{N: 600, Per: time.Minute}, 7},
		{sluice.Rate{N: 9, Per: time.Second}, 2},
	} {
		t.Run(fmt.Sprintf("%v among %d", c.rate, c.share), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := newConfig(sluice.Limits{Rate: c.rate}, newKeys("t", "g"))
				var pacer sluice.Limit
				ls, _ := cfg.local(c.share, 0, 0)
				for _, l := range ls {
					if _, ok := l.(*sluice.RateLimiter); ok {
						pacer = l
					}
				}
				if pacer == nil {
					t.Fatal("no rate among the local limits")
				}
				var starts []time.Time
				end := time.Now().Add(10 * c.rate.Per)
				for time.Now().Before(end) {
					wait, _ := pacer.Take(sluice.Cost{Requests: 1}, time.Now(), 0)
					if wait <= 0 {
						starts = append(starts, time.Now())
						continue
					}
					time.Sleep(wait)
				}
				most := 0 // the most starts in any window of the API's period
				for i := range starts {
					j := i
					for j < len(starts) && starts[j].Sub(starts[i]) < c.rate.Per {
						j++
					}
					most = max(most, j-i)
				}
				if together := most * c.share; float64(together) > c.rate.N {
					t.Errorf("one process starts up to %d calls in a window: %d processes in step start %d, over the limit %v",
						most, c.share, together, c.rate)
				}
				// Its share in whole calls, less the window it starts spent.
				if whole := math.Floor(c.rate.N / float64(c.share)); float64(len(starts)) < 9*whole {
					t.Errorf("one process started %d calls in 10 windows; want at least %v (its share, %v a window)", len(starts), 9*whole, whole)
				}
			})
		})
	}
}
