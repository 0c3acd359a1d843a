package sluice_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/sluicehq/sluice"
)

// BenchmarkGateQueued is the zero Transport's line at its simplest: 64
// callers taking turns at 8 slots, each holding its slot for a yield.
// Every admission after the first 8 waits in the gate's line.
func BenchmarkGateQueued(b *testing.B) {
	g := sluice.NewGate(sluice.NewSemaphore(8))
	ctx := context.Background()
	b.SetParallelism(64 / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := g.Acquire(ctx, sluice.Cost{})
			if err != nil {
				b.Fatal(err)
			}
			runtime.Gosched()
			p.Done(sluice.Outcome{})
		}
	})
}
