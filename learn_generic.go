package sluice

import (
	"time"
)

// The generic headers (X-RateLimit-Limit/-Remaining/-Reset, the older
// IETF RateLimit-*) name no window, so the pace spreads what remains
// until the reset. A reset written in whole seconds rounds a fixed
// window's last moments up to a second: "2 remaining, reset 1" late in a
// window of 10 a second paced 2 calls a second where 10 were due a
// moment later (outside review, finding 7: 5-6 calls a second against
// 10). The limit per the window would be the pace, if the window were
// known; a reset is never longer than its window, so the longest reset
// seen is only a floor of it (an hourly quota read a minute before its
// end says 60), and a floor is the wrong side to pace by.
//
// A ceiling needs more than one response. Over a continuous run of
// responses (no two further apart, with their latency, than denseGap),
// longer than the longest reset seen plus a second and the gap:
//
//   - the first response's window ended within the run, and a response
//     came within the gap after the end: it read the new window's
//     reset, rounded up, so the longest reset seen is the window (when
//     the window is a whole number of seconds, as it is when the API
//     writes its resets in whole seconds);
//   - a response came in the last half second before that end: an API
//     that rounds its resets down or to the nearest second read "0"
//     there, and one zero rules the window pace out for good;
//   - the window must be fixed, refilled whole at its end: a response
//     read Limit-1 remaining (the first call of a window) right after
//     one that read half the limit or less. A sliding window or a
//     bucket that refills as fast as that is no longer than the run's
//     gap, which is shorter than a second; a quota shared with another
//     client rarely reads Limit-1, and pays for it below.
//
// The window pace (Limit per that window, apiSafe's margin) is then
// taken when it is faster than the remaining quota's. A reset written
// more finely than a second is not rounded by a second, so what remains
// until it is already the right pace: its quota is left as it was.
// If more than 1% (and at least two) of the calls admitted since the
// window was proven are throttled, the window was wrong (another client
// spends the quota, or the window is not a whole number of seconds) and
// the pace goes back to what remains until the reset, for good.
type genericWindow struct {
	limit    int64         // the Limit the run is about; 0: no run
	runFrom  time.Duration // the run's first response, since the gate's epoch
	lastAt   time.Duration // the run's latest response, since the gate's epoch
	lastLeft int64         // what the latest response said remained
	gap      time.Duration // the longest gap between the run's responses
	latency  time.Duration // the run's longest latency
	top      time.Duration // the longest reset in the run
	refilled bool          // a fixed window's refill was seen in the run

	window    time.Duration // proven (above); 0 while not; -1 ruled out for good
	provenAt  int64         // admissions when it was proven
	throttled int64         // throttled calls since it was proven
}

// denseGap is the longest gap between responses, with their latency, a
// run may have: under half a second, so that a response falls in the
// half second before any window's end.
const denseGap = 450 * time.Millisecond

// note learns from q, a quota of requests read at (since the gate's
// epoch) latency after the API wrote it, with admitted calls so far and
// whether the call was throttled. It returns the proven window, or 0.
func (w *genericWindow) note(q Quota, at, latency time.Duration, admitted int64, throttled bool) time.Duration {
	if w.window < 0 || q.Window != 0 || q.Limit <= 0 || q.Remaining < 0 {
		return max(w.window, 0)
	}
	if throttled && w.window > 0 {
		if w.throttled++; w.throttled >= 2 && w.throttled*100 > admitted-w.provenAt {
			w.window = -1
			return 0
		}
	}
	switch {
	case q.Reset <= 0:
		// "0" (or a reset already past): the API rounds down, or to the
		// nearest second, and its longest reset is not its window.
		w.window = -1
		return 0
	case q.Reset%time.Second != 0:
		// Written more finely than a second: its own pace is right.
		w.window = -1
		return 0
	}
	latency = max(latency, 0)
	if gap := at - w.lastAt; w.limit != q.Limit || gap+max(w.latency, latency) > denseGap {
		if w.limit != q.Limit {
			w.window = 0
		}
		*w = genericWindow{limit: q.Limit, runFrom: at, lastAt: at, lastLeft: q.Remaining, latency: latency, top: q.Reset,
			window: w.window, provenAt: w.provenAt, throttled: w.throttled}
		return w.window
	}
	w.latency = max(w.latency, latency)
	w.gap = max(w.gap, at-w.lastAt)
	w.top = max(w.top, q.Reset)
	// A response lands within dense of any moment of the run up to
	// at-latency, where the API may have written it.
	dense, span := w.gap+w.latency, at-w.latency-w.runFrom
	// The refill is judged at least two gaps into the run, so that a
	// call of the run came before it.
	if q.Remaining == q.Limit-1 && w.lastLeft*2 <= q.Limit && span > 2*dense {
		w.refilled = true
	}
	w.lastAt, w.lastLeft = at, q.Remaining
	if w.refilled && span > w.top+time.Second+dense && w.top > w.window {
		if w.window == 0 {
			w.provenAt, w.throttled = admitted, 0
		}
		w.window = w.top
	}
	return w.window
}

// windowPace returns r, the pace a generic quota's remaining gives (ok
// false: none), or the limit per window when that is faster.
func windowPace(q Quota, window time.Duration, r Rate, ok bool) (Rate, bool) {
	if window <= 0 || q.Window != 0 || q.Limit <= 0 {
		return r, ok
	}
	w := apiSafe(Rate{N: float64(q.Limit), Per: window})
	if w.validate() != nil {
		return r, ok
	}
	if !ok || !r.IsZero() && r.PerSec() < w.PerSec() {
		return w, true
	}
	return r, ok // a zero r: no limit, faster still
}

// noteGeneric notes o's request quota q (read at, since the gate's
// epoch) and returns its proven window, or 0. l.mu is held.
func (l *learned) noteGeneric(q Quota, at time.Duration, o Outcome, admitted int64) time.Duration {
	if l.generic == nil {
		if q.Window != 0 || q.Limit <= 0 {
			return 0
		}
		l.generic = new(genericWindow)
	}
	return l.generic.note(q, at, o.Latency, admitted, o.Class == ClassThrottled && !o.ConcurrencyLimited)
}
