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
	pc := pace{interval: iv}
	for i := range 30 {
		got := p.promise("", t0, 2*time.Second, pc)
		if want := 2*time.Second + time.Duration(i)*iv; got != want {
			t.Fatalf("refusal %d promised %v, want %v", i, got, want)
		}
	}
	// The limits' estimate wins when it is later than the tail.
	if got := p.promise("", t0, 10*time.Second, pc); got != 10*time.Second {
		t.Errorf("estimate past the tail: promised %v, want 10s", got)
	}
	// Another gate has its own tail.
	if got := p.promise("m2", t0, time.Second, pc); got != time.Second {
		t.Errorf("other gate: promised %v, want 1s", got)
	}
	// Later, the tail is behind: back to the estimate.
	if got := p.promise("", t0.Add(time.Minute), time.Second, pc); got != time.Second {
		t.Errorf("a minute on: promised %v, want 1s", got)
	}
	// No interval (no rate): nothing spreads.
	var q promises
	for range 3 {
		if got := q.promise("", t0, time.Second, pace{}); got != time.Second {
			t.Errorf("no interval: promised %v, want 1s", got)
		}
	}
	// The cap: a huge burst stops growing the tail at maxPromise, and
	// the refusals beyond it are spread over the cap's last half, a
	// second apart, not all told the cap (one wave).
	var c promises
	seen := map[time.Duration]int{}
	for i := range 1000 {
		got := c.promise("", t0, 0, pace{interval: time.Second})
		if got > maxPromise {
			t.Fatalf("refusal %d promised %v, beyond the cap %v", i, got, maxPromise)
		}
		if i > 55 && i < 80 {
			seen[got]++
			if got < maxPromise/2 {
				t.Errorf("refusal %d, beyond the cap, promised %v: want the cap's last half", i, got)
			}
		}
	}
	if len(seen) < 24 {
		t.Errorf("24 refusals beyond the cap were promised %d distinct moments, want 24: %v", len(seen), seen)
	}
	if got := c.promise("", t0, 2*time.Minute, pace{interval: time.Second}); got != 2*time.Minute {
		t.Errorf("estimate past the cap: promised %v, want 2m (never earlier than the limits)", got)
	}
}

// The turns of concurrency slots promised ahead are read at the turn
// measured now: clients promised moments a guessed turn apart (a second's
// hold over a ceiling of 2) leave room for as many measured turns (200 ms
// over 5), and the next refusal is promised after those, not after the
// last of their moments; a given rate's interval still holds.
func TestPromisedTurnsFollowTheMeasuredTurn(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var p promises
	guessed := pace{turn: 500 * time.Millisecond}
	for i := range 20 {
		if got, want := p.promise("", t0, 0, guessed), time.Duration(i)*500*time.Millisecond; got != want {
			t.Fatalf("refusal %d promised %v, want %v", i, got, want)
		}
	}
	// A second later, calls have ended: a turn is 40 ms. 18 turns
	// promised are still ahead (the last at 9.5 s): 720 ms of them.
	now := t0.Add(time.Second)
	measured := pace{turn: 40 * time.Millisecond}
	got := p.promise("", now, 0, measured)
	if got != 720*time.Millisecond {
		t.Errorf("after the turn was measured: promised %v, want 720ms (18 turns of 40 ms), not after the guessed tail (8.5s)", got)
	}
	if next := p.promise("", now, 0, measured); next != got+40*time.Millisecond {
		t.Errorf("next: promised %v, want %v, one measured turn later", next, got+40*time.Millisecond)
	}
	// With a rate of 20/s the interval is 50 ms, more than the turn.
	var q promises
	for range 10 {
		q.promise("", t0, 0, guessed)
	}
	paced := pace{interval: 50 * time.Millisecond, turn: 40 * time.Millisecond}
	a := q.promise("", now, 0, paced)
	b := q.promise("", now, 0, paced)
	if a != 320*time.Millisecond || b-a != 50*time.Millisecond {
		t.Errorf("with a rate: promised %v then %v, want 320ms (8 turns of 40 ms) then 50 ms later", a, b)
	}
}
