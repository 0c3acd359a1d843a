package redis

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// With a Store, a zero Limits.Concurrency became one DefaultConcurrency
// (8) for the whole fleet: sharing "just a rate", the package's own
// example, throttled every process together to 8 calls in flight
// (outside review). It is not shared: each process keeps its own default.
func TestZeroConcurrencyIsNotShared(t *testing.T) {
	addr := sharedAddr(t)
	prefix := uniquePrefix(t)
	var held []*sluice.Permit
	t.Cleanup(func() {
		for _, p := range held {
			p.Done(sluice.Outcome{})
		}
	})
	for i := range 2 {
		st := newTestStore(t, addr, prefix, Options{})
		g := sluice.Limits{Rate: sluice.PerSecond(1000), FixedConcurrency: true, Store: st}.NewGate()
		n := 0
		for range sluice.DefaultConcurrency + 1 {
			if p := tryAcquire(t, g, sluice.Cost{}, 300*time.Millisecond); p != nil {
				held = append(held, p)
				n++
			}
		}
		if n != sluice.DefaultConcurrency {
			t.Errorf("process %d: %d calls in flight; want its own default, %d", i, n, sluice.DefaultConcurrency)
		}
	}
}
