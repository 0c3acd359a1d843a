package sluice

import (
	"context"
	"errors"
	"testing"
)

// A halt was for good: a live service whose quota was raised had to
// restart. Resume lets the gate admit again.
func TestGateResumeAfterHalt(t *testing.T) {
	g := Limits{Concurrency: 2}.NewGate()
	quota := errors.New("insufficient_quota")
	g.Halt(quota)
	if _, err := g.Acquire(context.Background(), Cost{}); !errors.Is(err, quota) {
		t.Fatalf("halted: %v; want the halt's error", err)
	}
	halted := g.haltedChan()
	g.Resume()
	if err := g.Halted(); err != nil {
		t.Errorf("Halted after Resume: %v; want nil", err)
	}
	p, err := g.Acquire(context.Background(), Cost{})
	if err != nil {
		t.Fatalf("after Resume: %v; want admitted", err)
	}
	p.Done(Outcome{})
	select {
	case <-halted: // the old one stays closed
	default:
		t.Error("the channel of the halt is open again")
	}
	select {
	case <-g.haltedChan():
		t.Error("a wait after Resume sees the gate halted")
	default:
	}
	g.Halt(quota) // and it can halt again
	if _, err := g.Acquire(context.Background(), Cost{}); !errors.Is(err, quota) {
		t.Errorf("halted again: %v; want the halt's error", err)
	}
}
