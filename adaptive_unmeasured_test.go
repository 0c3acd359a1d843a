package sluice

import (
	"context"
	"testing"
	"time"
)

// At the top of a gate's adaptive ceiling, a healthy call is a latency
// sample when its admission's low bits say so (sampledAt), whatever its
// latency's; the Transport reads no clock for the others (unsampled), and
// an outcome it left unmeasured is no sample, and is not measured by Done,
// even once the ceiling has left the top.
func TestUnsampledCallsAtTheTopAreNoSamples(t *testing.T) {
	a := NewAdaptiveLimit(1, 4)
	g := NewGate(a)
	samples := func() int {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.samples
	}
	admit := func(since time.Duration) *Permit {
		t.Helper()
		p, err := g.Acquire(context.Background(), Cost{})
		if err != nil {
			t.Fatal(err)
		}
		p.since = since
		return p
	}

	below := admit(1001)
	if below.unsampled() {
		t.Fatal("below the top: unsampled, want every call sampled")
	}
	below.Done(Outcome{Latency: 1001})
	if got := samples(); got != 1 {
		t.Fatalf("below the top: %d samples, want 1", got)
	}

	a.mu.Lock()
	a.setCeiling(4)
	a.mu.Unlock()
	kept := admit(8 * 1000) // sampled by its admission, though its latency is odd
	if kept.unsampled() {
		t.Fatal("an admission at a multiple of topSampling: unsampled, want sampled")
	}
	kept.Done(Outcome{Latency: 1001})
	if got := samples(); got != 2 {
		t.Fatalf("at the top, a sampled admission: %d samples, want 2", got)
	}
	thinned := admit(8*1000 + 3)
	if !thinned.unsampled() {
		t.Fatal("at the top, an admission off the sampling grid: sampled, want unsampled")
	}
	thinned.Done(Outcome{Latency: 8 * 1000}) // a latency the latency rule would keep
	if got := samples(); got != 2 {
		t.Fatalf("at the top, an unsampled admission: %d samples, want 2", got)
	}

	// Left unmeasured at the top, ended after a throttle brought the
	// ceiling down: still no sample, and no latency of 0 read into it.
	late := admit(8*1000 + 5)
	if !late.unsampled() {
		t.Fatal("at the top: sampled, want unsampled")
	}
	throttled := admit(8 * 2000)
	throttled.Done(Outcome{Class: ClassThrottled, Latency: time.Millisecond})
	if a.atTop.Load() {
		t.Fatal("still at the top after a throttle")
	}
	before := samples()
	late.Done(Outcome{unmeasured: true})
	if got := samples(); got != before {
		t.Fatalf("an unmeasured outcome after the top was left: %d samples, want %d", got, before)
	}
	if got := a.InFlight(); got != 0 {
		t.Fatalf("%d in flight after every Done, want 0", got)
	}
}
