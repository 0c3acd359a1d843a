package redis

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// A lease held longer than its time to live is renewed: nobody else gets
// the slot while its holder lives, and it is free at once on release.
func TestHeldLeaseIsRenewed(t *testing.T) {
	addr := sharedAddr(t)
	prefix := uniquePrefix(t)
	l := sluice.Limits{Concurrency: 1, FixedConcurrency: true}
	la, lb := l, l
	// A TTL of 1s, renewed every third of it: with 300ms, a renewal
	// delayed by a loaded machine under -race let the lease lapse.
	la.Store = newTestStore(t, addr, prefix, Options{LeaseTTL: time.Second})
	lb.Store = newTestStore(t, addr, prefix, Options{LeaseTTL: time.Second})
	a, b := la.NewGate(), lb.NewGate()
	p, err := a.Acquire(context.Background(), sluice.Cost{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond) // over two ttls before the gate gives up
	_, err = b.Acquire(ctx, sluice.Cost{})
	cancel()
	if err == nil {
		t.Fatal("the other process got the slot while its holder lived: the lease was not renewed")
	}
	p.Done(sluice.Outcome{})

	// A waiter is woken by the release's message, not by its re-check:
	// with the re-check 10s away, a grant within 2s can only be the
	// message's doing, however loaded the machine.
	lb.Store.(*Store).backstop = 10 * time.Second
	for i := range 2 {
		p, err := a.Acquire(context.Background(), sluice.Cost{})
		if err != nil {
			t.Fatal(err)
		}
		granted := make(chan time.Time, 1)
		go func() {
			q, err := b.Acquire(context.Background(), sluice.Cost{})
			if err != nil {
				t.Error(err)
				granted <- time.Time{}
				return
			}
			granted <- time.Now()
			q.Done(sluice.Outcome{})
		}()
		time.Sleep(100 * time.Millisecond) // b is refused and waits
		released := time.Now()
		p.Done(sluice.Outcome{})
		if d := (<-granted).Sub(released); d > 2*time.Second {
			t.Errorf("round %d: the waiter got the slot %v after the release; want at once (pub/sub)", i, d)
		}
	}
}
