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
//
// A concurrency slot's turn (the time a call holds its slot, over the
// ceiling) is an estimate that moves: a guess before any call has ended,
// then a moving mean, over a ceiling that adapts. The promises' turns are
// kept as a tail of their own, read at the turn measured now: the
// clients promised moments a guessed second's turn apart are that many
// turns ahead, and the next is promised after that many measured turns,
// not after the last of their moments (outside tester: 200 calls at
// 20/s, 5 in flight, were promised moments 500 ms apart, on a guessed
// 1 s hold over a ceiling of 2, and later ones after them, so that the
// proxy served 2 a second from 10 s on, while calls held their slot 200
// ms).

// maxPromise caps how far ahead a refusal is promised. The Anthropic and
// OpenAI SDKs ignore a retry-after of a minute or more (and fall back on
// their own backoff of a second or so): past this the tail stops
// growing, and the refusals beyond it are promised moments spread over
// the last half of the cap (the cap itself for them all came back in one
// wave), or the limits' own estimate when that is later.
const maxPromise = 55 * time.Second

// unknownHold is how long a call is taken to hold its concurrency slot
// before any has ended, on a gate whose other limits say nothing of how
// fast places free up.
const unknownHold = time.Second

// maxTails bounds the tails kept (one per gate: per model, per API key
// with per_key) before those already past are dropped.
const maxTails = 1024

// pace is how fast a gate's limits free places for those refused: one
// each interval (the given rate's and window's, the learned rate's, the
// time a token budget takes to refill what the request asks), and, while
// its concurrency slots are all taken, one each turn.
type pace struct{ interval, turn time.Duration }

// every is the time between two admissions at p.
func (p pace) every() time.Duration { return max(p.interval, p.turn) }

// promises is a route's tails of promised moments, by gate. Its zero
// value is ready; it is safe for concurrent use; a promise costs a map
// lookup under a mutex.
type promises struct {
	mu    sync.Mutex
	tails map[string]tail
}

// tail is what a gate's refused clients were promised.
type tail struct {
	at    time.Time     // an interval after the last promise
	turns time.Time     // a turn after the last promise, at turn
	turn  time.Duration // the turn when promised, 0 for none
	over  int           // promises beyond maxPromise since the last within it
}

// promise returns how long from now a client refused now, in gate key's
// queue, should wait: at least earliest (the limits' estimate), an
// interval after the previous promise still ahead, and after as many of
// the turns promised ahead as are still ahead, each taken at p.turn.
func (p *promises) promise(key string, now time.Time, earliest time.Duration, pc pace) time.Duration {
	at := now.Add(earliest)
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.tails[key]
	if t.at.After(at) {
		at = t.at
	}
	if pc.turn > 0 && t.turn > 0 && t.turns.After(now) {
		ahead := time.Duration(float64(t.turns.Sub(now)) * float64(pc.turn) / float64(t.turn))
		if now.Add(ahead).After(at) {
			at = now.Add(ahead)
		}
	}
	every := pc.every()
	if at.Sub(now) > maxPromise {
		if earliest >= maxPromise || every <= 0 {
			return max(maxPromise, earliest)
		}
		// Beyond the cap: a moment of its own in the cap's last half,
		// one interval from the previous one's, round and round.
		t.over++
		p.keep(key, t, now)
		span := maxPromise / 2
		return max(earliest, maxPromise-time.Duration(int64(t.over-1)*int64(every)%int64(span)))
	}
	if every <= 0 {
		return at.Sub(now)
	}
	t.over = 0
	if pc.interval > 0 {
		t.at = at.Add(pc.interval)
	}
	if pc.turn > 0 {
		t.turns, t.turn = at.Add(pc.turn), pc.turn
	}
	p.keep(key, t, now)
	return at.Sub(now)
}

// keep stores t as key's tail, dropping the tails already past when
// there are many. p.mu is held.
func (p *promises) keep(key string, t tail, now time.Time) {
	if p.tails == nil {
		p.tails = map[string]tail{}
	}
	if len(p.tails) >= maxTails {
		for k, old := range p.tails {
			if !old.at.After(now) && !old.turns.After(now) {
				delete(p.tails, k)
			}
		}
	}
	p.tails[key] = t
}

// admissionPace is how fast the limits of req's gate (key) admit at
// most: the given rate's and window's interval, the learned rate's, the
// time a token budget takes to refill what req (whose kept body is body)
// asks, and a concurrency slot's turn (the time calls hold a slot, over
// the ceiling) while every slot is taken. Zero when nothing says how fast
// places free up; then refusals are not spread. Only refusals ask, so the
// gate's stats and the estimate cost nothing on the way of a request
// admitted (outside review: a route limited by tokens or concurrency told
// every refused client to come back in a second, and most were refused
// again).
func (r *route) admissionPace(req *http.Request, key string, body []byte, l sluice.Limits) pace {
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
	p := pace{interval: d}
	if st.Ceiling > 0 && st.InFlight >= int64(st.Ceiling) {
		hold := time.Duration(r.holdTime.Load())
		if hold <= 0 && d == 0 {
			// No call has ended yet to say how long one holds its slot,
			// and nothing else says how fast places free up: a second,
			// the common answer's order, rather than nothing, which told
			// a first crowd refused by a full queue the same second, and
			// most came back to be refused again (outside review: 23 of
			// 24). Not when a rate says: the guess over an adaptive
			// ceiling of 2 told a crowd 500 ms apart against 20/s, a
			// tenth of the pace (outside tester).
			hold = unknownHold
		}
		p.turn = hold / time.Duration(st.Ceiling)
	}
	return p
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
