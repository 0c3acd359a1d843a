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
	stop chan struct{}
	wg   sync.WaitGroup
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
				for m := p.most.Load(); n > m && !p.most.CompareAndSwap(m, n); m = p.most.Load() {
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
}
