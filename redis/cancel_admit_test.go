package redis

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// A caller that gives up while its admission is on its way to Redis
// returns ctx.Err(), but the script may have run and taken a lease: it
// was neither released nor renewed, and the one slot was lost to every
// process until the lease expired (outside review). The admission is now
// given back, by id, whether or not it ran.
func TestCancelledAdmissionGivesBackItsLease(t *testing.T) {
	slowStore, gs, gf := slowAndFast(t, 100*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := gs.Acquire(ctx, sluice.Cost{})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire: %v; want the context's error (stats %+v)", err, slowStore.Stats())
	}
	// The caller's own deadline is no outage, even when the client's read
	// deadline, set from it, fires a moment before the context says so.
	if st := slowStore.Stats(); st.Outages != 0 || st.Fallbacks != 0 {
		t.Errorf("stats %+v after a caller's timeout; want no outage, no fallback", st)
	}
	slotFree(t, gf)
}

// A caller cancelled (no deadline) while its admission is at Redis got a
// permit anyway once the answer came: the client does not end a read on
// a cancel, only on a deadline (outside review). The grant is given back
// and the caller gets its context's error.
func TestCancelDuringAdmissionIsHonoured(t *testing.T) {
	_, gs, gf := slowAndFast(t, 300*time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if p, err := gs.Acquire(ctx, sluice.Cost{}); err == nil {
		p.Done(sluice.Outcome{})
		t.Fatal("Acquire granted a permit after its context was cancelled")
	} else if !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire: %v; want the context's error", err)
	}
	slotFree(t, gf)
}

// slowAndFast returns two gates sharing Concurrency 1 through Redis: gs
// through a relay holding every reply for delay, its connection warmed,
// and gf straight to Redis; and gs's store.
func slowAndFast(t *testing.T, delay time.Duration) (slowStore *Store, gs, gf *sluice.Gate) {
	t.Helper()
	addr := sharedAddr(t)
	prefix := uniquePrefix(t)
	l := sluice.Limits{Concurrency: 1, FixedConcurrency: true}
	slow, fast := l, l
	slowStore = newTestStore(t, slowRelay(t, addr, delay), prefix, Options{})
	slow.Store = slowStore
	fast.Store = newTestStore(t, addr, prefix, Options{})
	gs, gf = slow.NewGate(), fast.NewGate()
	// Warm the connection (the first call also subscribes).
	p, err := gs.Acquire(context.Background(), sluice.Cost{})
	if err != nil {
		t.Fatal(err)
	}
	p.Done(sluice.Outcome{})
	time.Sleep(2 * delay)
	return slowStore, gs, gf
}

// slotFree fails the test unless g's one slot is granted within 2s: the
// lease's time to live is 5s, so a grant that soon is a give-back's. (No
// deadline: the gate would refuse at once a wait it predicts longer.)
func slotFree(t *testing.T, g *sluice.Gate) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer time.AfterFunc(2*time.Second, cancel).Stop()
	p, err := g.Acquire(ctx, sluice.Cost{})
	if err != nil {
		t.Fatalf("the only slot, held by nobody, was not granted in 2s: %v", err)
	}
	p.Done(sluice.Outcome{})
}
