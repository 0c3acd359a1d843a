package redis

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// A pause one process sets holds every process sharing the key.
func TestPauseIsSharedBetweenProcesses(t *testing.T) {
	addr := sharedAddr(t)
	prefix := uniquePrefix(t)
	l := sluice.Limits{Concurrency: 4}
	la, lb := l, l
	la.Store = newTestStore(t, addr, prefix, Options{})
	lb.Store = newTestStore(t, addr, prefix, Options{})
	a, b := la.NewGate(), lb.NewGate()
	a.PauseUntil(time.Now().Add(300 * time.Millisecond))
	start := time.Now()
	p, err := b.Acquire(context.Background(), sluice.Cost{})
	if err != nil {
		t.Fatal(err)
	}
	p.Done(sluice.Outcome{})
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("the other process was admitted after %v; want the shared 300ms pause", d)
	}
}

// A pace one process learns from the API's headers holds every process:
// two processes together keep the learned 10/s, not 10/s each.
func TestLearnedPaceIsSharedBetweenProcesses(t *testing.T) {
	addr := sharedAddr(t)
	prefix := uniquePrefix(t)
	l := sluice.Limits{Concurrency: 4}
	la, lb := l, l
	la.Store = newTestStore(t, addr, prefix, Options{})
	lb.Store = newTestStore(t, addr, prefix, Options{})
	a, b := la.NewGate(), lb.NewGate()
	p, err := a.Acquire(context.Background(), sluice.Cost{})
	if err != nil {
		t.Fatal(err)
	}
	p.Done(sluice.Outcome{RateLimit: &sluice.RateLimitInfo{Requests: sluice.Quota{Limit: 10, Remaining: 9, Window: time.Second}}})
	start := time.Now()
	for i := range 10 {
		g := a
		if i%2 == 1 {
			g = b // b never saw a header: only the shared pace holds it
		}
		p, err := g.Acquire(context.Background(), sluice.Cost{})
		if err != nil {
			t.Fatal(err)
		}
		p.Done(sluice.Outcome{})
	}
	// 10 calls at a shared 10/s (burst 1) take at least 9 intervals.
	if d := time.Since(start); d < 850*time.Millisecond {
		t.Errorf("10 calls from two processes took %v; want the learned 10/s kept together (>= 900ms)", d)
	}
}
