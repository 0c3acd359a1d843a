package sluice

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrBadLimits is matched (errors.Is) by every error Limits.Validate
// returns, and so by the error of a Transport's calls whose gate was
// given such limits.
var ErrBadLimits = errors.New("sluice: bad limits")

// Validate reports the first field of l that makes no sense, by name: a
// rate with a count but no period (Rate{N: 100} paced 100 per 6ms, the
// network margin, with no word), a window that cannot hold one whole
// start, a negative concurrency, burst or pause. The zero Limits is
// valid. NewGate panics on limits Validate refuses; a Transport's calls
// to a gate with such limits fail with its error instead, since gates
// are made on the first call.
func (l Limits) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: Limits.%s: %s", ErrBadLimits, field, fmt.Sprintf(format, args...))
	}
	switch {
	case l.Concurrency < 0:
		return bad("Concurrency", "%d: want 0 (DefaultConcurrency) or more", l.Concurrency)
	case l.Burst < 0:
		return bad("Burst", "%d: want 0 (evenly spaced, as 1) or more", l.Burst)
	case l.MaxPause < 0:
		return bad("MaxPause", "%v: want 0 (DefaultMaxPause) or more", l.MaxPause)
	}
	for _, f := range []struct {
		name string
		r    Rate
	}{{"Rate", l.Rate}, {"Window", l.Window}, {"Tokens", l.Tokens}, {"InputTokens", l.InputTokens}, {"OutputTokens", l.OutputTokens}} {
		if err := f.r.validate(); err != nil {
			return bad(f.name, "%s", strings.TrimPrefix(err.Error(), "sluice: "))
		}
	}
	if w := l.Window; !w.IsZero() && (w.N < 1 || w.N > math.MaxInt32) {
		return bad("Window", "%v: a window's count must be a whole number of starts from 1 to %d", w, math.MaxInt32)
	}
	return nil
}

// refusingGate is the gate of limits Validate refused: every call fails
// with the reason, where building the gate panicked inside a Transport's
// RoundTrip, the first time a key was seen.
func refusingGate(err error) *Gate {
	g := NewGate()
	g.Halt(err)
	return g
}
