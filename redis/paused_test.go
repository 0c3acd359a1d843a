package redis

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// A pause one process took from a 429 held the others' admissions, but
// their gates' PausedUntil said "not paused" (outside review, F8). An
// admission that meets the shared pause now tells the gate its end,
// without a round trip of its own.
func TestSharedPauseIsSeenByTheOthersPausedUntil(t *testing.T) {
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
	p.Done(sluice.Outcome{Class: sluice.ClassThrottled,
		RateLimit: &sluice.RateLimitInfo{RetryAfter: 2 * time.Second, HasRetryAfter: true}})
	end := a.PausedUntil()
	if end.IsZero() {
		t.Fatal("the 429's Retry-After did not pause the gate that got it")
	}
	trips := lb.Store.(*Store).Stats().RoundTrips
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if p, err := b.Acquire(ctx, sluice.Cost{}); err == nil {
		p.Done(sluice.Outcome{})
		t.Fatal("the other process was admitted during the shared pause")
	}
	got := b.PausedUntil()
	if d := got.Sub(end); got.IsZero() || d < -300*time.Millisecond || d > 300*time.Millisecond {
		t.Errorf("the other process's PausedUntil is %v, %v from the pause's end; want the shared pause's end", got, d)
	}
	if s := b.Stats(); !s.PausedUntil.Equal(got) {
		t.Errorf("GateStats.PausedUntil %v; want PausedUntil's %v", s.PausedUntil, got)
	}
	if n := lb.Store.(*Store).Stats().RoundTrips - trips; n != 1 {
		t.Errorf("%d round trips for one refused admission and PausedUntil; want 1", n)
	}
}
