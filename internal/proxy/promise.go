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

// admissionInterval is the time between two admissions the limits allow
// at most, 0 when no rate or window limits them (then refusals are not
// spread: nothing says how fast places free up).
func admissionInterval(l sluice.Limits) time.Duration {
	var d time.Duration
	for _, r := range []sluice.Rate{l.Rate, l.Window} {
		if !r.IsZero() {
			d = max(d, r.Interval())
		}
	}
	return d
}

// promiseKey names req's gate within the route: its model and API key
// hash, without the host (the client's request and the upstream's carry
// different ones).
func (r *route) promiseKey(req *http.Request) string {
	if len(r.Models) == 0 && !r.PerKey {
		return ""
	}
	k := r.key(req)
	if i := strings.IndexByte(k, '/'); i >= 0 {
		return k[i+1:]
	}
	if i := strings.IndexByte(k, '#'); i >= 0 {
		return k[i:]
	}
	return ""
}
