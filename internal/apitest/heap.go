package apitest

import (
	"runtime"
	"runtime/metrics"
	"time"
)

// HeapPeak samples the heap's live and unswept objects until stopped and
// returns the most it saw beyond where it started: what a test of memory
// bounded by design (bodies spooled, error bodies cut) asserts on.
func HeapPeak() (stop func() uint64) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var peak uint64
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Microsecond)
		defer tick.Stop()
		for {
			peak = max(peak, read())
			select {
			case <-quit:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(quit)
		<-done
		return max(peak, base) - base
	}
}
