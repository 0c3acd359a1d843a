package redis

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// The reviewer's bunching: with --redis, about one call in ten on a
// loaded machine started 50-150 ms after the slot Redis had reserved for
// it (its sleep overran), and the next call, finding the timeline behind
// the clock, started at once: two starts together, and a strict API's
// window beginning at the late one held one call too many (429s from a
// single process at the configured rate). A call that wakes later than
// lateStart now gives its slot back and asks again, so the next call is
// paced from the late one's real start.
func TestLateWakerAsksAgainRatherThanBunching(t *testing.T) {
	st := newTestStore(t, sharedAddr(t), uniquePrefix(t), Options{Ahead: 300 * time.Millisecond})
	var sleeps atomic.Int32
	st.sleep = func(ctx context.Context, d time.Duration) error {
		if sleeps.Add(1) == 1 {
			d += 150 * time.Millisecond // the first reserved sleep overruns, as on a loaded machine
		}
		return sleepFor(ctx, d)
	}
	g := sluice.Limits{Rate: sluice.PerSecond(10), Store: st}.NewGate()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var starts []time.Time
	for range 4 {
		p, err := g.Acquire(ctx, sluice.Cost{})
		if err != nil {
			t.Fatal(err)
		}
		starts = append(starts, time.Now())
		p.Done(sluice.Outcome{})
	}
	if sleeps.Load() < 2 {
		t.Fatalf("%d reserved sleeps; want the second call to sleep for its slot and more after it", sleeps.Load())
	}
	for i := 1; i < len(starts); i++ {
		// 100 ms a call; Redis's clock and this process's differ by a
		// round trip's jitter, far less than the 80 ms allowed here.
		if gap := starts[i].Sub(starts[i-1]); gap < 80*time.Millisecond {
			t.Errorf("call %d started %v after call %d; want about 100ms at 10/s: a late start let the next one bunch up behind it", i, gap, i-1)
		}
	}
	if n := st.Stats().LateRetakes; n < 1 {
		t.Errorf("stats count %d late retakes; want the overrun counted", n)
	}
}
