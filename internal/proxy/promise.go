package proxy

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
)

// The proxy's own 429s say when to come back. Were that the same for
// every client refused in a burst (the queue's or the gate's estimate at
// that moment), their SDKs would retry in one wave a few seconds later,
// most would be refused again, and the upstream would idle in between.
// So each refusal is promised a moment of its own: no earlier than the
// limits predict they could admit it, and after the moments promised to
// the clients refused before it, one admission interval apart. The tail
// of those promises is an absolute time: as the clock passes it, it
// decays back to now without a goroutine.

// maxPromise caps how far ahead a refusal is promised. The Anthropic and
// OpenAI SDKs ignore a retry-after of a minute or more (and fall back on
// their own backoff of a second or so): past this the tail stops
// growing, and refusals are promised this, or the limits' own estimate
// when that is later.
const maxPromise = 55 * time.Second

// unknownHold is how long a call is taken to hold its concurrency slot
// before any has ended.
const unknownHold = time.Second

// maxTails bounds the tails kept (one per gate: per model, per API key
// with per_key) before those already past are dropped.
const maxTails = 1024

// promises is a route's tails of promised moments, by gate. Its zero
// value is ready; it is safe for concurrent use; a promise costs a map
// lookup under a mutex.
type promises struct {
	mu    sync.Mutex
	tails map[string]time.Time
}

// promise returns how long from now a client refused now, in gate key's
// queue, should wait: at least earliest (the limits' estimate), and one
// interval after the previous promise still ahead.
func (p *promises) promise(key string, now time.Time, earliest, interval time.Duration) time.Duration {
	at := now.Add(earliest)
	p.mu.Lock()
	defer p.mu.Unlock()
	if tail := p.tails[key]; tail.After(at) {
		at = tail
	}
	if at.Sub(now) > maxPromise {
		return max(maxPromise, earliest)
	}
	if interval > 0 {
		if p.tails == nil {
			p.tails = map[string]time.Time{}
		}
		if len(p.tails) >= maxTails {
			for k, t := range p.tails {
				if !t.After(now) {
					delete(p.tails, k)
				}
			}
		}
		p.tails[key] = at.Add(interval)
	}
	return at.Sub(now)
}

// admissionInterval is the time between two admissions the limits of
// req's gate (key) allow at most: the given rate's and window's interval,
// the learned rate's, the time a token budget takes to refill what req
// (whose kept body is body) asks, and a concurrency slot's turn (the time
// calls hold a slot, over the ceiling). 0 when nothing says how fast
// places free up; then refusals are not spread. Only refusals ask, so the
// gate's stats and the estimate cost nothing on the way of a request
// admitted (outside review: a route limited by tokens or concurrency told
// every refused client to come back in a second, and most were refused
// again).
func (r *route) admissionInterval(req *http.Request, key string, body []byte, l sluice.Limits) time.Duration {
	var d time.Duration
	for _, rate := range []sluice.Rate{l.Rate, l.Window} {
		if !rate.IsZero() {
			d = max(d, rate.Interval())
		}
	}
	gate := r.tr.Gate(key)
	st := gate.Stats()
	if !st.Learned.IsZero() {
		d = max(d, st.Learned.Interval())
	}
	if c, _, ok := r.tokenEstimate(req, body); ok {
		in, out := time.Duration(max(c.InputTokens, 0)), time.Duration(max(c.OutputTokens, 0))
		for _, b := range []struct {
			rate   sluice.Rate
			tokens time.Duration
		}{{l.Tokens, in + out}, {l.InputTokens, in}, {l.OutputTokens, out}} {
			if !b.rate.IsZero() {
				d = max(d, b.tokens*b.rate.Interval())
			}
		}
	}
	if st.Ceiling > 0 && st.InFlight >= int64(st.Ceiling) {
		hold := time.Duration(r.holdTime.Load())
		if hold <= 0 {
			// No call has ended yet to say how long one holds its slot:
			// a second, the common answer's order, rather than nothing,
			// which told a first crowd refused by a full queue the same
			// second, and most came back to be refused again (outside
			// review: 23 of 24).
			hold = unknownHold
		}
		d = max(d, hold/time.Duration(st.Ceiling))
	}
	return d
}

// promiseKeyOf names the gate of key within the route: its model and API
// key hash, without the host (the client's request and the upstream's
// carry different ones).
func promiseKeyOf(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[i+1:]
	}
	if i := strings.IndexByte(key, '#'); i >= 0 {
		return key[i:]
	}
	return ""
}

// noteHold adds how long an admitted request held its concurrency slot
// (from its admission to its end, body included) to the route's moving
// mean, over about eight requests. Concurrent notes may lose one another:
// it is an estimate for refusals' Retry-After, not a count.
func (r *route) noteHold(d time.Duration) {
	if d <= 0 {
		return
	}
	old := r.holdTime.Load()
	if old == 0 {
		r.holdTime.Store(int64(d))
		return
	}
	r.holdTime.Store(old + (int64(d)-old)/8)
}
