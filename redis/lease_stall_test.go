package redis

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// A Redis that stalls for longer than a lease's time to live (SIGSTOP, a
// VM paused), its data intact, drops the leases of live holders: the
// leases key expires, or the first admission afterwards reaps them. The
// holders' renewals only pushed back leases still there (they put them
// back only when Redis's epoch changed, a restart), so another process
// was admitted beyond the shared concurrency for as long as the calls ran
// (outside review). A holder now puts back what it has not released; and
// a renewal that answers tells the store Redis is back.
func TestLeasesSurviveARedisStall(t *testing.T) {
	srv := startServer(t)
	prefix := uniquePrefix(t)
	opt := Options{LeaseTTL: 900 * time.Millisecond, CallTimeout: 200 * time.Millisecond, RetryEvery: time.Minute}
	l := sluice.Limits{Concurrency: 2, FixedConcurrency: true}
	la, lb := l, l
	sa := newTestStore(t, srv.addr, prefix, opt)
	la.Store = sa
	a := la.NewGate()
	holdCalls(t, a, 2)
	srv.pause()
	time.Sleep(2500 * time.Millisecond) // the leases key's expiry (ttl+1s) passes
	srv.resume()
	// A renews every 300ms; two renewals' time to put them back.
	time.Sleep(time.Second)
	if sa.Stats().Down {
		t.Errorf("stats %+v; Redis answers A's renewals again, yet A counts it down", sa.Stats())
	}
	lb.Store = newTestStore(t, srv.addr, prefix, opt)
	b := lb.NewGate()
	if p := tryAcquire(t, b, sluice.Cost{}, 1500*time.Millisecond); p != nil {
		p.Done(sluice.Outcome{})
		t.Fatal("after a stall longer than the lease ttl, another process was admitted while A holds both slots of a shared Concurrency 2")
	}
}
