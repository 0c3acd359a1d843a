package redis

import (
	"net"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// Processes that start while Redis is unreachable have seen no other
// process, and each took the whole shared limit in Local mode: three of
// them ran 12 calls against a shared Concurrency 4 (outside review).
// Options.Processes says how many to assume until Redis counts them.
func TestProcessesStartedDuringAnOutageAssumeOptionsProcesses(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: Redis is down from the start
	for _, c := range []struct {
		processes, want int
	}{
		{0, 4}, // unknown: the whole limit, as documented
		{3, 1}, // 4 among 3: 1 each
		{2, 2},
	} {
		var held []*sluice.Permit
		for range 3 {
			st := newTestStore(t, addr, uniquePrefix(t), Options{Processes: c.processes, CallTimeout: 200 * time.Millisecond, RetryEvery: time.Minute})
			g := sluice.Limits{Concurrency: 4, FixedConcurrency: true, Store: st}.NewGate()
			n := 0
			for range 4 {
				if p := tryAcquire(t, g, sluice.Cost{}, 300*time.Millisecond); p != nil {
					held = append(held, p)
					n++
				}
			}
			if n != c.want {
				t.Errorf("Processes %d: a process started during the outage admitted %d of a shared 4; want %d", c.processes, n, c.want)
			}
		}
		for _, p := range held {
			p.Done(sluice.Outcome{})
		}
	}
}
