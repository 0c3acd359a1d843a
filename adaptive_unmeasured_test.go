package sluice

import (
	"context"
	"testing"
	"time"
)

// At the top of a gate's adaptive ceiling, a healthy call is a latency
// sample when its admission's low bits say so (sampledAt), whatever its
// latency's; the Transport reads no clock for the others
// (Permit.latencyUnread), and
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
	if below.latencyUnread() {
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
	if kept.latencyUnread() {
		t.Fatal("an admission at a multiple of topSampling: unsampled, want sampled")
	}
	kept.Done(Outcome{Latency: 1001})
	if got := samples(); got != 2 {
		t.Fatalf("at the top, a sampled admission: %d samples, want 2", got)
	}
	thinned := admit(8*1000 + 3)
	if !thinned.latencyUnread() {
		t.Fatal("at the top, an admission off the sampling grid: sampled, want unsampled")
	}
	thinned.Done(Outcome{Latency: 8 * 1000}) // a latency the latency rule would keep
	if got := samples(); got != 2 {
		t.Fatalf("at the top, an unsampled admission: %d samples, want 2", got)
	}

	// Left unmeasured at the top, ended after a throttle brought the
	// ceiling down: still no sample, and no latency of 0 read into it.
	late := admit(8*1000 + 5)
	if !late.latencyUnread() {
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

// A gate none of whose limits reads latencies leaves every healthy
// latency unread; one with a limit beside its adaptive ceiling reads them
// all, at the top too (only Gate.sole is thinned before its latency).
func TestLatencyUnreadFollowsTheGatesLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		gate func() *Gate
		want bool
	}{
		{"semaphore", func() *Gate { return NewGate(NewSemaphore(4)) }, true},
		{"rate", func() *Gate { return NewGate(NewRateLimiter(Rate{N: 1e6, Per: time.Second}, 1)) }, true},
		{"adaptive beside a semaphore", func() *Gate {
			a := NewAdaptiveLimit(1, 4)
			a.mu.Lock()
			a.setCeiling(4)
			a.mu.Unlock()
			return NewGate(a, NewSemaphore(4))
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.gate().Acquire(context.Background(), Cost{})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Done(Outcome{})
			p.since = 8*1000 + 3 // off the sampling grid
			if got := p.latencyUnread(); got != tc.want {
				t.Fatalf("latencyUnread = %v, want %v", got, tc.want)
			}
		})
	}
}
