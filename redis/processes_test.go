package redis

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// processes runs callers through the gates of two processes sharing a
// concurrency limit, and counts what they have in flight: together
// (inFlight, and its most), each, and the calls each ended.
type processes struct {
	t              *testing.T
	limit          int64
	inFlight, most atomic.Int64
	each, done     [2]atomic.Int64
	// over, when set, is told the count each time it exceeds limit.
	over func(n int64)
	// partitioned, when set, says whether the processes disagree now on
	// whether Redis answers: one cut off from it while the other reaches
	// it, which the package doc lets run N and what the cut-off one
	// holds beyond its leases, up to 2N for two. An admission then is
	// held to that bound (mostCut), not to N. On a loaded machine a slow
	// answer past the call timeout is such a partition.
	partitioned func() bool
	mostCut     atomic.Int64
	stop        chan struct{}
	wg          sync.WaitGroup
}

func newProcesses(t *testing.T, limit int) *processes {
	return &processes{t: t, limit: int64(limit), stop: make(chan struct{})}
}

// run starts callers goroutines admitting calls through g as process i,
// each holding its call hold(), until end.
func (p *processes) run(i int, g *sluice.Gate, callers int, hold func() time.Duration) {
	for range callers {
		p.wg.Go(func() {
			for {
				select {
				case <-p.stop:
					return
				default:
				}
				permit, err := g.Acquire(context.Background(), sluice.Cost{})
				if err != nil {
					p.t.Errorf("process %d: %v", i, err)
					return
				}
				n := p.inFlight.Add(1)
				p.each[i].Add(1)
				most := &p.most
				if n > p.limit && p.partitioned != nil && p.partitioned() {
					most = &p.mostCut
				}
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				if n > p.limit && p.over != nil {
					p.over(n)
				}
				time.Sleep(hold())
				p.each[i].Add(-1)
				p.inFlight.Add(-1)
				permit.Done(sluice.Outcome{})
				p.done[i].Add(1)
			}
		})
	}
}

// end stops the callers and waits for them, failing the test when they
// have not all returned within wait; then checks that the calls in flight
// never exceeded the limit.
func (p *processes) end(wait time.Duration) {
	p.t.Helper()
	close(p.stop)
	finished := make(chan struct{})
	go func() { p.wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(wait):
		p.t.Fatalf("callers still blocked %v after the end; %d calls in flight", wait, p.inFlight.Load())
	}
	if m := p.most.Load(); m > p.limit {
		p.t.Errorf("%d calls in flight across both processes; want at most the shared %d", m, p.limit)
	}
	if m := p.mostCut.Load(); m > 2*p.limit {
		p.t.Errorf("%d calls in flight across both processes while one was cut off from Redis; want at most %d (the shared %d and the cut-off one's)", m, 2*p.limit, p.limit)
	}
}
