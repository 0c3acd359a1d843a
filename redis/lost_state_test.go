package redis

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// A Redis restarted between two calls of a process fails none of them
// (the client dials again), and the process admitted against the empty
// leases while the others' calls, and its own, still ran: until their
// holders' next renewal nothing counted them (outside review, F6). Redis
// counted the process less than a minute ago and no longer does: the
// admission says so, and the process puts its leases back and keeps to
// its Local share (here none: the other holds both slots) while the
// others put theirs back.
func TestProcessFindsRedisRestartedBetweenItsCalls(t *testing.T) {
	srv := startServer(t)
	prefix := uniquePrefix(t)
	opt := Options{LeaseTTL: 6 * time.Second} // renewed every 2s: not during the test
	l := sluice.Limits{Concurrency: 2, FixedConcurrency: true}
	la, lb := l, l
	la.Store, lb.Store = newTestStore(t, srv.addr, prefix, opt), newTestStore(t, srv.addr, prefix, opt)
	a, b := la.NewGate(), lb.NewGate()
	if p := tryAcquire(t, b, sluice.Cost{}, time.Second); p != nil {
		p.Done(sluice.Outcome{}) // B is one of the processes
	} else {
		t.Fatal("B was refused a free slot")
	}
	holdCalls(t, a, 2)
	if p := tryAcquire(t, b, sluice.Cost{}, 300*time.Millisecond); p != nil {
		p.Done(sluice.Outcome{})
		t.Fatal("B was admitted while A holds both slots")
	}
	srv.stop()
	srv.start() // empty: it keeps nothing on disk
	if p := tryAcquire(t, b, sluice.Cost{}, time.Second); p != nil {
		p.Done(sluice.Outcome{})
		t.Fatal("B was admitted right after Redis restarted, while A still holds both slots of a shared Concurrency 2")
	}
	if s := lb.Store.(*Store).Stats(); s.Outages != 0 {
		t.Logf("B saw the restart as an outage (stats %+v): the restart came during a call", s)
	}
}
