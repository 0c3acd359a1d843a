package redis

import (
	"math/rand/v2"
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
	ps := newProcesses(t, limit)
	newGate := func() *sluice.Gate {
		return sluice.Limits{Concurrency: limit, FixedConcurrency: true, Store: newTestStore(t, srv.addr, prefix, opt)}.NewGate()
	}
	a, b := newGate(), newGate()
	ps.run(0, a, limit, func() time.Duration { return time.Duration(2000+rand.IntN(1000)) * time.Millisecond })
	for deadline := time.Now().Add(5 * time.Second); ps.each[0].Load() < limit; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("A holds %d of the %d slots", ps.each[0].Load(), limit)
		}
	}
	ps.run(1, b, limit, func() time.Duration { return time.Duration(100+rand.IntN(200)) * time.Millisecond })
	time.Sleep(300 * time.Millisecond) // B's callers wait for a slot, told that A holds them all
	srv.pause()
	time.Sleep(3 * time.Second) // past the leases' time to live
	srv.resume()
	time.Sleep(2 * time.Second) // back on Redis, past the grace
	ps.end(15 * time.Second)
}
