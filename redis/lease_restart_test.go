package redis

import (
	"context"
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
	var held []*sluice.Permit
	for range 2 {
		p, err := a.Acquire(context.Background(), sluice.Cost{})
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, p)
	}
	t.Cleanup(func() {
		for _, p := range held {
			p.Done(sluice.Outcome{})
		}
	})
	// Renewals under way (every 300ms) before the restart.
	srv.stop()
	srv.start() // empty: it keeps nothing on disk
	// A renews every 300ms; two renewals' time for it to put them back.
	time.Sleep(time.Second)

	lb.Store = newTestStore(t, srv.addr, prefix, opt)
	b := lb.NewGate()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if p, err := b.Acquire(ctx, sluice.Cost{}); err == nil {
		p.Done(sluice.Outcome{})
		t.Fatal("another process was admitted while this one holds both slots of a shared Concurrency 2")
	}
}
