package sluice_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice"
)

// pausingShared is a fakeShared that says what it knows of the shared
// pause (Shared's optional PausedUntil).
type pausingShared struct{ *fakeShared }

func (p pausingShared) PausedUntil() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Until(p.paused) <= 0 {
		return time.Time{}
	}
	return p.paused
}

// A pause another process shared held this gate's admissions, but its
// PausedUntil said "not paused" (outside review, F8): it now reports the
// later of its own pause and the one its Shared knows.
func TestPausedUntilReportsTheSharedPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeShared{slots: 1}
		g := sluice.NewSharedGate(pausingShared{f})
		other := time.Now().Add(2 * time.Second) // set by another process
		f.Pause(other)
		if got := g.PausedUntil(); !got.Equal(other) {
			t.Errorf("PausedUntil %v; want the shared pause's end %v", got, other)
		}
		if got := g.Stats().PausedUntil; !got.Equal(other) {
			t.Errorf("Stats().PausedUntil %v; want %v", got, other)
		}
		own := time.Now().Add(3 * time.Second)
		g.PauseUntil(own) // shared too, through Pause
		if got := g.PausedUntil(); !got.Equal(own) {
			t.Errorf("PausedUntil %v after a longer pause of its own; want %v", got, own)
		}
		time.Sleep(4 * time.Second)
		if got := g.PausedUntil(); !got.IsZero() {
			t.Errorf("PausedUntil %v after both pauses ended; want zero", got)
		}
		// A Shared that knows nothing of pauses leaves the gate's own.
		plain := sluice.NewSharedGate(&fakeShared{slots: 1, paused: time.Now().Add(time.Second)})
		if got := plain.PausedUntil(); !got.IsZero() {
			t.Errorf("PausedUntil %v through a Shared without PausedUntil; want zero", got)
		}
	})
}
