package redis

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// A gate the Transport forgets closes its Shared; once every gate of a
// key has, the store forgets the key and stops listening to its release
// channel: a store kept every key ever seen, and a subscription for each
// (outside review). A gate made again for the key is heard again.
func TestStoreForgetsAKeyItsGatesForgot(t *testing.T) {
	addr := sharedAddr(t)
	st := newTestStore(t, addr, uniquePrefix(t), Options{})
	rc := dialTest(t, addr)
	l := sluice.Limits{Concurrency: 1}
	a := st.Share("k", l)
	b := st.Share("k", l)
	channel := a.(*shared).keys.released
	subscribers := func() int64 {
		n, err := rc.PubSubNumSub(context.Background(), channel).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n[channel]
	}
	waitFor := func(what string, want int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for subscribers() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d subscribers to %s, want %d", what, subscribers(), channel, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("two gates", 1)

	a.(io.Closer).Close()
	waitFor("one gate of two forgotten", 1)
	st.mu.Lock()
	_, kept := st.gates["k"]
	st.mu.Unlock()
	if !kept {
		t.Fatal("the store forgot a key one of whose gates is still in use")
	}

	b.(io.Closer).Close()
	waitFor("both gates forgotten", 0)
	st.mu.Lock()
	_, kept = st.gates["k"]
	st.mu.Unlock()
	if kept {
		t.Error("the store keeps a key whose gates are all forgotten")
	}

	// Made again: subscribed again, and a release by another process
	// wakes it.
	c := st.Share("k", l)
	waitFor("made again", 1)
	changed := c.Changed()
	other := newTestStore(t, addr, st.opt.Prefix, Options{})
	g := sluice.NewSharedGate(other.Share("k", l))
	p, err := g.Acquire(context.Background(), sluice.Cost{})
	if err != nil {
		t.Fatal(err)
	}
	p.Done(sluice.Outcome{})
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Error("a release by another process did not reach the gate made again")
	}
}
