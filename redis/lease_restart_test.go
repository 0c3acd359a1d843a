package redis

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// A Redis restarted empty forgot the leases of the calls in flight, and
// their holders' renewals only pushed back leases still there: another
// process was then admitted beyond the shared concurrency for as long as
// those calls ran (outside review). A holder that finds its leases gone
// puts them back at its next renewal.
func TestLeasesSurviveARedisRestartedEmpty(t *testing.T) {
	srv := startServer(t)
	prefix := uniquePrefix(t)
	opt := Options{LeaseTTL: 900 * time.Millisecond}
	l := sluice.Limits{Concurrency: 2, FixedConcurrency: true}
	la, lb := l, l
	la.Store = newTestStore(t, srv.addr, prefix, opt)
	a := la.NewGate()
	holdCalls(t, a, 2)
	// Renewals under way (every 300ms) before the restart.
	srv.stop()
	srv.start() // empty: it keeps nothing on disk
	// A renews every 300ms; two renewals' time for it to put them back.
	time.Sleep(time.Second)

	lb.Store = newTestStore(t, srv.addr, prefix, opt)
	b := lb.NewGate()
	if p := tryAcquire(t, b, sluice.Cost{}, 1500*time.Millisecond); p != nil {
		p.Done(sluice.Outcome{})
		t.Fatal("another process was admitted while this one holds both slots of a shared Concurrency 2")
	}
}
