package sluice

import (
	"testing"
	"time"
)

// A paced call that left a few milliseconds late moves the pace on by
// that much, not by a whole interval more: at 1/h, a new connection's
// 3 ms held the next call an hour more (a proxy test under load saw
// Retry-After 7201 for 3600).
func TestChargeLateMovesThePaceByTheLateness(t *testing.T) {
	l := NewRateLimiter(Rate{N: 1, Per: time.Hour}, 1)
	if !l.Allow() {
		t.Fatal("first take refused")
	}
	before := l.timeline()
	l.chargeAt(1, time.Now(), 3*time.Millisecond)
	if moved := time.Duration(l.timeline() - before); moved > 4*time.Millisecond {
		t.Errorf("the pace moved on %v for a call 3ms late; want about 3ms", moved)
	}
}
