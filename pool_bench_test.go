package sluice

import (
	"context"
	"testing"
)

// BenchmarkPool measures what a Pool costs per item around a function that
// does nothing: handing the item out, the retry loop's first attempt, and
// the result's way back, without and with a gate.
func BenchmarkPool(b *testing.B) {
	const items = 10000
	for _, bc := range []struct {
		name string
		gate func() *Gate
	}{
		{"nogate", func() *Gate { return nil }},
		{"semaphore", func() *Gate { return NewGate(NewSemaphore(8)) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p := &Pool[int, int]{Gate: bc.gate(), Workers: 8, Retry: RetryPolicy{MaxAttempts: 1}}
				n := 0
				for r := range p.Run(context.Background(), count(items, nil), func(ctx context.Context, i int) (int, error) {
					return i, nil
				}) {
					n += r.Value
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*items), "ns/item")
		})
	}
}
