package redis

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// A Redis that accepts connections and never answers (a partition, a
// route that drops packets) is what Local mode exists for. Once the
// first call has timed out, admissions must go at the local pace: the
// probes of Redis that follow are made off their path. They were made
// in line, each holding an admission (and the gate behind it) for a
// whole call timeout, about every retry period: a run paced at 20/s got
// about 5/s.
func TestSilentRedisDoesNotHoldAdmissions(t *testing.T) {
	addr := silentServer(t)
	client, err := Dial("redis://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	st := New(client, "api", Options{Prefix: uniquePrefix(t), CallTimeout: time.Second, RetryEvery: 20 * time.Millisecond})
	t.Cleanup(func() { st.Close() })
	g := sluice.Limits{Rate: sluice.PerSecond(200), Store: st}.NewGate()
	acquire := func() time.Duration {
		start := time.Now()
		p, err := g.Acquire(context.Background(), sluice.Cost{})
		if err != nil {
			t.Fatal(err)
		}
		p.Done(sluice.Outcome{})
		return time.Since(start)
	}
	acquire() // the call that finds Redis silent waits its timeout
	if !st.Stats().Down {
		t.Fatal("Redis not declared down after a call timed out")
	}
	var slowest time.Duration
	n := 0
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); n++ {
		slowest = max(slowest, acquire())
	}
	if slowest > 500*time.Millisecond {
		t.Errorf("slowest of %d admissions while Redis was silent took %v; want the local pace, not a call timeout", n, slowest)
	}
	if s := st.Stats(); s.RoundTrips < 2 || !s.Down {
		t.Errorf("stats %+v; want Redis still down and probed again in the background", s)
	}
}

// silentServer accepts connections and never answers on them.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}
