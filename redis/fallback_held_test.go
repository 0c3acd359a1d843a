package redis

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// tryAcquire asks g for one call, giving up after d; nil when refused.
func tryAcquire(t *testing.T, g *sluice.Gate, c sluice.Cost, d time.Duration) *sluice.Permit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	p, err := g.Acquire(ctx, c)
	if err != nil {
		return nil
	}
	return p
}

// holdCalls takes n calls of g, each admitted at once, and ends them when
// the test does.
func holdCalls(t *testing.T, g *sluice.Gate, n int) {
	t.Helper()
	var held []*sluice.Permit
	t.Cleanup(func() {
		for _, p := range held {
			p.Done(sluice.Outcome{})
		}
	})
	for range n {
		p, err := g.Acquire(context.Background(), sluice.Cost{})
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, p)
	}
}

// Two processes hold 2+2 calls of a shared Concurrency 4 through Redis,
// which then dies. Local mode's fallback semaphore started empty, so each
// process admitted its share (2) on top of what it held: 8 in flight
// (outside review). It now starts with the calls held counted, and they
// give their unit back to it when they end.
func TestLocalFallbackCountsCallsHeldThroughRedis(t *testing.T) {
	srv := startServer(t)
	prefix := uniquePrefix(t)
	opt := Options{CallTimeout: 200 * time.Millisecond, RetryEvery: time.Minute}
	var gates []*sluice.Gate
	for range 2 {
		gates = append(gates, sluice.Limits{Concurrency: 4, FixedConcurrency: true,
			Store: newTestStore(t, srv.addr, prefix, opt)}.NewGate())
	}
	held := map[*sluice.Gate][]*sluice.Permit{}
	for range 2 { // in turn, so that each has seen both processes
		for _, g := range gates {
			p, err := g.Acquire(context.Background(), sluice.Cost{})
			if err != nil {
				t.Fatal(err)
			}
			held[g] = append(held[g], p)
		}
	}
	t.Cleanup(func() {
		for _, ps := range held {
			for _, p := range ps {
				p.Done(sluice.Outcome{})
			}
		}
	})
	srv.stop()
	for i, g := range gates {
		if p := tryAcquire(t, g, sluice.Cost{}, 600*time.Millisecond); p != nil {
			p.Done(sluice.Outcome{})
			t.Fatalf("process %d, at its share (2 of 4 held), was admitted one more during the outage", i)
		}
	}
	// A call held through Redis that ends gives its slot to the fallback.
	a := gates[0]
	held[a][0].Done(sluice.Outcome{})
	held[a] = held[a][1:]
	p := tryAcquire(t, a, sluice.Cost{}, 2*time.Second)
	if p == nil {
		t.Fatal("a call held through Redis ended during the outage, and its slot was not given to the fallback")
	}
	held[a] = append(held[a], p)
	if p := tryAcquire(t, a, sluice.Cost{}, 600*time.Millisecond); p != nil {
		p.Done(sluice.Outcome{})
		t.Fatal("admitted beyond this process's share after one slot came back")
	}
}
