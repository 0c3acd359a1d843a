package redis

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// A weight above the concurrency is admitted alone by the Semaphore a
// gate keeps in memory, as Gate.Acquire documents; through a Store the
// same Limits refused it for good as ErrTooLarge (outside review). Shared,
// it now runs alone too: when no process holds a lease.
func TestWeightAboveSharedConcurrencyRunsAlone(t *testing.T) {
	addr := sharedAddr(t)
	prefix := uniquePrefix(t)
	l := sluice.Limits{Concurrency: 2, FixedConcurrency: true}
	la, lb := l, l
	la.Store, lb.Store = newTestStore(t, addr, prefix, Options{}), newTestStore(t, addr, prefix, Options{})
	a, b := la.NewGate(), lb.NewGate()
	heavy := sluice.Cost{Requests: 5}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	p, err := a.Acquire(ctx, heavy)
	cancel()
	if err != nil {
		t.Fatalf("a weight of 5 through a shared Concurrency 2, nothing held: %v; want it run alone", err)
	}
	// While it runs, nobody else.
	if q := tryAcquire(t, b, sluice.Cost{}, 500*time.Millisecond); q != nil {
		q.Done(sluice.Outcome{})
		t.Error("another process was admitted beside the heavy call")
	}
	p.Done(sluice.Outcome{})
	// Held by another, it waits for it.
	q, err := b.Acquire(context.Background(), sluice.Cost{})
	if err != nil {
		t.Fatal(err)
	}
	if p := tryAcquire(t, a, heavy, 500*time.Millisecond); p != nil {
		p.Done(sluice.Outcome{})
		t.Error("the heavy call was admitted beside another process's call")
	}
	q.Done(sluice.Outcome{})
	if p := tryAcquire(t, a, heavy, 2*time.Second); p == nil {
		t.Error("the heavy call was not admitted once the other's call ended")
	} else {
		p.Done(sluice.Outcome{})
	}
}

// A refusal names the limit by the store's name and the gate's key, not
// by the Redis key that keeps it ({sluice:NAME}:KEY:tokens).
func TestTooLargeNamesTheLimitNotTheRedisKey(t *testing.T) {
	addr := sharedAddr(t)
	st := newTestStore(t, addr, uniquePrefix(t), Options{})
	g := sluice.Limits{Tokens: sluice.PerMinute(1000), Store: st}.NewGate()
	_, err := g.Acquire(context.Background(), sluice.Cost{InputTokens: 1100})
	var tl *sluice.TooLargeError
	if !errors.As(err, &tl) {
		t.Fatalf("Acquire: %v; want a *sluice.TooLargeError", err)
	}
	if want := "shared token budget (api)"; tl.Limit != want || strings.Contains(err.Error(), "{") {
		t.Errorf("limit %q, error %q; want the limit named %q, no Redis key", tl.Limit, err, want)
	}
	if !strings.Contains(err.Error(), "of 1000/m ") {
		t.Errorf("error %q; want the budget as given, 1000/m", err)
	}
}
