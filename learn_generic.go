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
// A ceiling needs two responses: one that read half the limit or less
// remaining, then, from a call sent after it came back and within
// refillGap of when the API may have written it, one that read Limit-1,
// the first call of a new window. Between the two the window ended:
//
//   - the second response's reset is its new window's, less under
//     refillGap: rounded up to whole seconds, it reads the window (when
//     the window is a whole number of seconds, as it is when the API
//     writes its resets in whole seconds);
//   - the first response's reset was under refillGap, half a second:
//     an API that rounds down, or to the nearest second, read "0" there
//     (one zero rules the window pace out for good), so this one rounds
//     up;
//   - a sliding window that read Limit-1 held no other call, though
//     the first was under refillGap before: it is shorter than that;
//     a bucket that refilled half its size in refillGap fills whole in
//     under a second. Either is no longer than a whole-second reset.
//
// The window is then the longest reset seen since the limit was said
// (never shorter than the proof's, longer as longer ones come), and its
// pace (Limit per window, apiSafe's margin) is taken when it is faster
// than the remaining quota's. A reset written more finely than a second
// is not rounded by a second, so what remains until it is already the
// right pace: such a quota is left as it was. A quota shared with
// another client rarely reads Limit-1; when it does, or the window is
// not a whole number of seconds, more than 1% (and at least two) of the
// calls admitted since the proof are throttled, and the pace goes back
// to what remains until the reset, for good.
type genericWindow struct {
	limit    int64         // the Limit the rest is about
	top      time.Duration // the longest reset since the limit was said
	lastAt   time.Duration // the latest response, since the gate's epoch
	lastSent time.Duration // when its call was sent, since the gate's epoch
	lastLeft int64         // what it said remained

	window    time.Duration // proven (above); 0 while not; -1 ruled out for good
	provenAt  int64         // admissions when it was proven
	throttled int64         // throttled calls since it was proven
}

// refillGap bounds the time between the two responses that prove a
// window: under half a second, so that an API rounding to the nearest
// second would have read "0" in the first.
const refillGap = 450 * time.Millisecond

// note learns from q, a quota of requests read at (since the gate's
// epoch) latency after its call was sent, with admitted calls so far and
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
	if q.Reset <= 0 || q.Reset%time.Second != 0 {
		// "0" (or a reset already past): the API rounds down, or to the
		// nearest second, and its longest reset is not its window. Finer
		// than a second: its own pace is right.
		w.window = -1
		return 0
	}
	sent := at - max(latency, 0)
	if w.limit != q.Limit {
		*w = genericWindow{limit: q.Limit, top: q.Reset, lastAt: at, lastSent: sent, lastLeft: q.Remaining}
		return 0
	}
	w.top = max(w.top, q.Reset)
	if w.window == 0 && q.Remaining == q.Limit-1 && w.lastLeft*2 <= q.Limit &&
		w.lastAt < sent && at-w.lastSent <= refillGap {
		w.window, w.provenAt, w.throttled = w.top, admitted, 0
	}
	if w.window > 0 {
		w.window = w.top
	}
	w.lastAt, w.lastSent, w.lastLeft = at, sent, q.Remaining
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
