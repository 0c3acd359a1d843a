package proxy

import (
	"testing"
	"time"
)

// Refusals in a burst are promised moments one admission interval apart,
// never earlier than the limits' estimate, decaying back to now as time
// passes, and never beyond maxPromise unless the limits say so.
func TestPromisesSpreadRefusalsHonestly(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var p promises
	const iv = 100 * time.Millisecond
	for i := range 30 {
		got := p.promise("", t0, 2*time.Second, iv)
		if want := 2*time.Second + time.Duration(i)*iv; got != want {
			t.Fatalf("refusal %d promised %v, want %v", i, got, want)
		}
	}
	// The limits' estimate wins when it is later than the tail.
	if got := p.promise("", t0, 10*time.Second, iv); got != 10*time.Second {
		t.Errorf("estimate past the tail: promised %v, want 10s", got)
	}
	// Another gate has its own tail.
	if got := p.promise("m2", t0, time.Second, iv); got != time.Second {
		t.Errorf("other gate: promised %v, want 1s", got)
	}
	// Later, the tail is behind: back to the estimate.
	if got := p.promise("", t0.Add(time.Minute), time.Second, iv); got != time.Second {
		t.Errorf("a minute on: promised %v, want 1s", got)
	}
	// No interval (no rate): nothing spreads.
	var q promises
	for range 3 {
		if got := q.promise("", t0, time.Second, 0); got != time.Second {
			t.Errorf("no interval: promised %v, want 1s", got)
		}
	}
	// The cap: a huge burst stops growing the tail at maxPromise.
	var c promises
	var last time.Duration
	for range 1000 {
		last = c.promise("", t0, 0, time.Second)
	}
	if last != maxPromise {
		t.Errorf("after 1000 refusals at 1/s: promised %v, want the cap %v", last, maxPromise)
	}
	if got := c.promise("", t0, 2*time.Minute, time.Second); got != 2*time.Minute {
		t.Errorf("estimate past the cap: promised %v, want 2m (never earlier than the limits)", got)
	}
}
