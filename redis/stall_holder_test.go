package redis

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// Process A holds every slot of a shared Concurrency 10, with long calls,
// and B's callers wait for one, when Redis stalls. A kept its ten in
// Local mode, and B, at its share, started five more (outside review,
// F6). B's part of the slots A did not hold is none: it waits, and the
// calls in flight across both never exceed 10.
func TestProcessHoldingEverySlotKeepsThemAloneThroughAStall(t *testing.T) {
	srv := startServer(t)
	prefix := uniquePrefix(t)
	opt := Options{LeaseTTL: 1500 * time.Millisecond, CallTimeout: 500 * time.Millisecond, RetryEvery: 200 * time.Millisecond}
	const limit = 10
	var inFlight, most atomic.Int64
	var each [2]atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	run := func(i int, g *sluice.Gate, hold func() time.Duration) {
		for range limit {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					p, err := g.Acquire(context.Background(), sluice.Cost{})
					if err != nil {
						t.Errorf("process %d: %v", i, err)
						return
					}
					n := inFlight.Add(1)
					each[i].Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(hold())
					each[i].Add(-1)
					inFlight.Add(-1)
					p.Done(sluice.Outcome{})
				}
			})
		}
	}
	newGate := func() *sluice.Gate {
		return sluice.Limits{Concurrency: limit, FixedConcurrency: true, Store: newTestStore(t, srv.addr, prefix, opt)}.NewGate()
	}
	a, b := newGate(), newGate()
	run(0, a, func() time.Duration { return time.Duration(2000+rand.IntN(1000)) * time.Millisecond })
	for deadline := time.Now().Add(5 * time.Second); each[0].Load() < limit; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("A holds %d of the %d slots", each[0].Load(), limit)
		}
	}
	run(1, b, func() time.Duration { return time.Duration(100+rand.IntN(200)) * time.Millisecond })
	time.Sleep(300 * time.Millisecond) // B's callers wait for a slot, told that A holds them all
	srv.pause()
	time.Sleep(3 * time.Second) // past the leases' time to live
	srv.resume()
	time.Sleep(2 * time.Second) // back on Redis, past the grace
	close(stop)
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(15 * time.Second):
		t.Fatalf("callers still blocked 15s after the end; %d calls in flight", inFlight.Load())
	}
	if m := most.Load(); m > limit {
		t.Errorf("%d calls in flight across both processes; want at most the shared %d", m, limit)
	}
}
