package redis

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// Two processes share Concurrency 10 through Redis, ten callers each,
// every call held 100–300ms, while Redis restarts empty or stalls. The
// process holding more than half the slots kept them in Local mode while
// the other filled its half, and one that found Redis back admitted
// against leases the restart or the stall had dropped, its own calls and
// the other's not yet put back: up to 45 calls over the limit (outside
// review, F6). The calls in flight across both, counted at every
// admission, never exceed 10; none is lost or stuck.
func TestSharedConcurrencyHoldsAcrossARedisOutage(t *testing.T) {
	for _, c := range []struct {
		name  string
		times int // events, a grace apart
		event func(srv *ownServer)
	}{
		{"restart", 2, func(srv *ownServer) {
			srv.stop()
			time.Sleep(500 * time.Millisecond) // long enough for Local mode to admit
			srv.start()                        // empty: it keeps nothing on disk
		}},
		{"quick restart", 5, func(srv *ownServer) { // between two calls: maybe unnoticed
			srv.stop()
			srv.start()
		}},
		{"stall", 1, func(srv *ownServer) { // past the leases' time to live
			srv.pause()
			time.Sleep(3 * time.Second)
			srv.resume()
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := startServer(t)
			prefix := uniquePrefix(t)
			// The default call timeout: a shorter one finds a stall
			// while more calls run, but a loaded machine's slow answer
			// is then an outage of one process alone, a partition,
			// where the others may take the slots it takes meanwhile
			// (see the package doc).
			opt := Options{LeaseTTL: 1500 * time.Millisecond, CallTimeout: time.Second, RetryEvery: 200 * time.Millisecond}
			const limit, callers = 10, 10
			ps := newProcesses(t, limit)
			var stores [2]*Store
			ps.over = func(n int64) {
				t.Logf("%d in flight (%d and %d); stores: %+v, %+v", n, ps.each[0].Load(), ps.each[1].Load(), stores[0].Stats(), stores[1].Stats())
			}
			for i := range 2 {
				stores[i] = newTestStore(t, srv.addr, prefix, opt)
			}
			ps.partitioned = func() bool { return stores[0].Stats().Down != stores[1].Stats().Down }
			for i, st := range stores {
				g := sluice.Limits{Concurrency: limit, FixedConcurrency: true, Store: st}.NewGate()
				ps.run(i, g, callers, func() time.Duration { return time.Duration(100+rand.IntN(200)) * time.Millisecond })
			}
			var before [2]int64
			for range c.times {
				time.Sleep(time.Second) // both at work through Redis
				// The event comes when one process holds far more than
				// its half, if that happens within a second: then a
				// share for each is most wrong.
				for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
					if d := ps.each[0].Load() - ps.each[1].Load(); d >= 4 || d <= -4 {
						break
					}
				}
				c.event(srv)
				before = [2]int64{ps.done[0].Load(), ps.done[1].Load()}
			}
			time.Sleep(2 * time.Second) // back on Redis, past the grace
			ps.end(10 * time.Second)
			for i := range 2 {
				if ps.done[i].Load() == before[i] {
					t.Errorf("process %d ended no call after the %s", i, c.name)
				}
			}
			if n := ps.inFlight.Load(); n != 0 {
				t.Errorf("%d calls in flight after every caller returned", n)
			}
		})
	}
}
