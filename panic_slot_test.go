package sluice

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// panickingBase panics on every request, as a broken Base (or a hook in
// one) would.
type panickingBase struct{}

func (panickingBase) RoundTrip(*http.Request) (*http.Response, error) { panic("broken base") }

// A call that panics gives its slot back, and the panic goes on: a
// caller that recovered (an HTTP server does) kept the slot for good,
// and a gate of Concurrency 2 admitted nothing after two panics.
func TestPanickingCallGivesItsSlotBack(t *testing.T) {
	// A leaked slot makes the next call wait: a deadline ends it, so the
	// test fails rather than hangs.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	recovered := func(f func()) (v any) {
		defer func() { v = recover() }()
		f()
		return nil
	}
	g := Limits{Concurrency: 2, FixedConcurrency: true}.NewGate()
	for range 3 {
		v := recovered(func() {
			RetryPolicy{}.Do(ctx, g, Cost{}, func(context.Context) (Outcome, error) { panic("broken call") })
		})
		if v != "broken call" {
			t.Fatalf("Do recovered %v; want the call's panic to go on", v)
		}
	}
	if st := g.Stats(); st.InFlight != 0 {
		t.Errorf("Do: %d in flight after the panics; want 0", st.InFlight)
	}

	tr := &Transport{Base: panickingBase{}, Limits: Limits{Concurrency: 2, FixedConcurrency: true}}
	for range 3 {
		v := recovered(func() { tr.RoundTrip(mustRequest(t, "http://api.test/").WithContext(ctx)) })
		if v != "broken base" {
			t.Fatalf("RoundTrip recovered %v; want the base's panic to go on", v)
		}
	}
	if st := tr.Gate("api.test").Stats(); st.InFlight != 0 {
		t.Errorf("Transport: %d in flight after the panics; want 0", st.InFlight)
	}
}
