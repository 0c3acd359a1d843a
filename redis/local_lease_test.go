package redis

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// A call admitted by Local mode during an outage held no lease once Redis
// answered again: the other processes then took every shared slot while
// it still ran (outside review). Its leases are now put in Redis by the
// renewal that finds Redis back.
func TestCallAdmittedLocallyHoldsALeaseOnceRedisIsBack(t *testing.T) {
	srv := startServer(t)
	prefix := uniquePrefix(t)
	opt := Options{LeaseTTL: 900 * time.Millisecond, CallTimeout: 200 * time.Millisecond, RetryEvery: 100 * time.Millisecond}
	l := sluice.Limits{Concurrency: 2, FixedConcurrency: true}
	la, lb := l, l
	la.Store, lb.Store = newTestStore(t, srv.addr, prefix, opt), newTestStore(t, srv.addr, prefix, opt)
	a, b := la.NewGate(), lb.NewGate()
	stores := map[*sluice.Gate]*Store{a: la.Store.(*Store), b: lb.Store.(*Store)}
	for _, g := range []*sluice.Gate{a, b, a} { // A sees two processes, and both slots free: its part is 1
		p, err := g.Acquire(context.Background(), sluice.Cost{})
		if err != nil {
			t.Fatal(err)
		}
		p.Done(sluice.Outcome{})
		awaitReleases(t, stores[g]) // released before the next asks: it sees the slot free
	}
	srv.stop()
	pa := tryAcquire(t, a, sluice.Cost{}, 2*time.Second)
	if pa == nil {
		t.Fatal("Local mode refused A its share during the outage")
	}
	defer pa.Done(sluice.Outcome{})
	srv.start() // empty
	// A's renewals (every 300ms) find Redis back; past the grace too.
	time.Sleep(1200 * time.Millisecond)
	var got []*sluice.Permit
	for range 2 {
		if p := tryAcquire(t, b, sluice.Cost{}, time.Second); p != nil {
			got = append(got, p)
		}
	}
	for _, p := range got {
		p.Done(sluice.Outcome{})
	}
	if len(got) > 1 {
		t.Errorf("A's call, admitted locally during the outage, still runs, yet B got %d of the 2 shared slots", len(got))
	}
	if s := la.Store.(*Store).Stats(); s.Down {
		t.Errorf("A's stats %+v; want Redis found back", s)
	}
}
