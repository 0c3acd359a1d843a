package sluice

import (
	"io"
	"sync/atomic"
	"time"
)

// A Transport keeps a gate per key, and an agent fetching from thousands of
// hosts would keep thousands of them. So it forgets a gate that no longer
// remembers anything a new one would not: nothing waiting, in flight, or
// between a round trip's attempts, no pause in force, not halted on its
// own, and unused for longer than its limits remember (minGateMemory, or
// the longest period of its rates, learned ones included). The gates are
// swept when a new one is made and their number has doubled since the
// last sweep, so that sweeping costs O(1) per gate made and no goroutine.

// minGateMemory is the least time a gate is kept after its last use: what
// an adaptive ceiling learned about the API's health is worth a minute.
const minGateMemory = time.Minute

// minSweep is the number of gates below which none is forgotten.
const minSweep = 64

// keptGate is a gate of a Transport, with what forgetting it depends on.
type keptGate struct {
	// uses counts the round trips using the gate, by stripe of their
	// goroutines (gate_permits.go): every request writes its stripe twice
	// and stamps it, and one counter for all would be a cache line that
	// the cores of a busy Transport take from each other on every call.
	uses [gateStripes]gateUses
	gate *Gate
	// offset is the gate's epoch after the Transport's: a permit's
	// admission since the one is offset less than since the other.
	offset time.Duration
	key    string
	// tokenLimited: its Limits keep a token budget, which every request
	// must then be charged for (see Transport.cost).
	tokenLimited bool
	// answered: a request through the gate got a response, so a refused
	// connection is a host restarting, not one never up (unreachable.go).
	answered atomic.Bool
}

// gateUses is one stripe of a keptGate's uses, on a cache line of its own.
type gateUses struct {
	// users counts the stripe's round trips using the gate now;
	// forgotten once swept, after which none may start using it.
	users atomic.Int32
	used  atomic.Int64 // when the stripe last used the gate, as t.now()
	_     [48]byte
}

// forgotten is gateUses.users of a gate swept away.
const forgotten = -1

// now returns the time since the Transport was set up, monotonic.
func (t *Transport) now() int64 { return int64(time.Since(t.epoch)) }

// gate returns the gate for key, creating it, and forgetting idle ones,
// when there is none. t.mu is held.
func (t *Transport) gate(key string) *keptGate {
	k, ok := t.gates[key]
	if !ok {
		if len(t.gates) >= t.sweepAt {
			t.sweep()
		}
		lim := t.Limits
		if t.LimitsFor != nil {
			lim = t.LimitsFor(key)
		}
		var g *Gate
		if err := lim.Validate(); err != nil {
			g = refusingGate(err)
		} else {
			g = lim.newGate(key)
		}
		k = &keptGate{gate: g, key: key, tokenLimited: lim.tokenLimited(), offset: g.epoch.Sub(t.epoch)}
		if t.halted != nil {
			k.gate.Halt(t.halted)
		}
		t.gates[key] = k
		t.index.Store(key, k)
	}
	k.uses[0].used.Store(t.now())
	return k
}

// use returns the gate for key, counted as in use, in the caller's stripe
// it returns too, until unuse. A known key takes no lock: the index is
// read without one, and the count taken with a compare-and-swap that
// fails on a gate just forgotten. Every request comes here, from every
// goroutine: a Transport-wide mutex was the one point where all of them
// met.
//
// The gate made last is tried first: most Transports send to one API,
// and comparing a key costs a tenth of a sync.Map lookup, which hashes it
// as an interface.
func (t *Transport) use(key string) (*keptGate, int) {
	s := int(callerStripe())
	if k := t.last.Load(); k != nil && k.key == key && k.tryUse(s) {
		return k, s
	}
	if v, ok := t.index.Load(key); ok {
		if k := v.(*keptGate); k.tryUse(s) {
			if l := t.last.Load(); l == nil || l.isForgotten() {
				t.last.Store(k) // not on every call: keys taking turns would all write it
			}
			return k, s
		}
	}
	t.mu.Lock()
	k := t.gate(key)
	k.uses[s].users.Add(1) // under t.mu, so that no sweep finds it idle in between
	t.mu.Unlock()
	t.last.Store(k)
	return k, s
}

// tryUse counts a use of k in stripe s, unless k has been forgotten.
func (k *keptGate) tryUse(s int) bool {
	u := &k.uses[s].users
	for {
		n := u.Load()
		if n == forgotten {
			return false
		}
		if u.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// since returns when p, a permit of k's gate, was admitted, as t.now().
// Every gate a Transport makes has an epoch (NewGate).
func (k *keptGate) since(p *Permit) time.Duration { return k.offset + p.since }

// isForgotten reports whether k has been swept away.
func (k *keptGate) isForgotten() bool { return k.uses[0].users.Load() == forgotten }

// unuse ends a use of k counted in stripe s, which ended at, as t.now().
func (t *Transport) unuse(k *keptGate, s int, at int64) {
	u := &k.uses[s]
	u.used.Store(at)
	u.users.Add(-1)
	if at >= t.sweepDue.Load() {
		t.sweepIdle(at)
	}
}

// sweepEvery is how often a round trip's end sweeps the idle gates
// besides the sweep a new gate makes once their number has doubled:
// after a burst of keys (an agent's fetch of 50,000 hosts), followed by
// traffic to a few, the burst's gates stayed, 4 KiB each, until as many
// new keys came again.
const sweepEvery = 30 * time.Second

// sweepIdle sweeps the idle gates, once per sweepEvery whichever round
// trip ends first past it; at is now, as t.now().
func (t *Transport) sweepIdle(at int64) {
	due := t.sweepDue.Load()
	if at < due || !t.sweepDue.CompareAndSwap(due, at+int64(sweepEvery)) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.gates) > minSweep {
		t.sweep()
	}
}

// forget marks k forgotten if no round trip uses it, and reports whether
// it did. A round trip that finds a stripe forgotten takes t.mu, which
// the sweep holds: it then finds k gone, or, if another stripe was in
// use and k stays, counted again. t.mu is held.
func (k *keptGate) forget() bool {
	for s := range k.uses {
		if !k.uses[s].users.CompareAndSwap(0, forgotten) {
			for r := range s {
				k.uses[r].users.Store(0)
			}
			return false
		}
	}
	return true
}

// lastUsed returns when k was last used, as t.now().
func (k *keptGate) lastUsed() int64 {
	var at int64
	for s := range k.uses {
		at = max(at, k.uses[s].used.Load())
	}
	return at
}

// inUse reports whether a round trip uses k now.
func (k *keptGate) inUse() bool {
	for s := range k.uses {
		if k.uses[s].users.Load() > 0 {
			return true
		}
	}
	return false
}

// sweep forgets the idle gates, keeping their counters in t.retired.
// t.mu is held.
func (t *Transport) sweep() {
	now := t.now()
	for key, k := range t.gates {
		// Marked forgotten only when no round trip uses it: one that
		// found it in the index without t.mu will then not start to.
		if k.idle(now, t.halted) && k.forget() {
			t.index.Delete(key)
			s := k.gate.Stats()
			t.retired.Admitted += s.Admitted
			t.retired.Completed += s.Completed
			t.retired.Throttled += s.Throttled
			t.retired.Pauses += s.Pauses
			delete(t.gates, key)
			if c, ok := k.gate.shared.(io.Closer); ok {
				c.Close() // the store lets go of the key (Store)
			}
		}
	}
	t.sweepAt = max(2*len(t.gates), minSweep)
}

// idle reports whether forgetting k loses nothing: a new gate would admit
// the same calls. halted is the Transport's own halt, which new gates get
// too.
func (k *keptGate) idle(now int64, halted error) bool {
	if k.inUse() || time.Duration(now-k.lastUsed()) < k.gate.memory() {
		return false
	}
	if err := k.gate.Halted(); err != nil && err != halted {
		return false // halted on its own, for an exhausted quota
	}
	s := k.gate.Stats()
	if s.Waiting != 0 || s.InFlight != 0 || !k.gate.PausedUntil().IsZero() {
		return false
	}
	for _, l := range k.gate.limits {
		if !l.Rested() {
			return false // it owes time (a token debt, a full window): a new gate would not
		}
	}
	return true
}

// memory returns how long g's limits remember a call: the longest period
// of its rates, windows and token budgets, learned ones included, and at
// least minGateMemory.
func (g *Gate) memory() time.Duration {
	m := minGateMemory
	for _, l := range g.limits {
		m = max(m, l.Info().Period)
	}
	return m
}

// A limit is rested when it holds nothing a new one would not: nothing
// held or waiting, no charge still being paid off, no start left in its
// window. Forgetting a gate whose limits are all rested admits exactly
// what keeping it would.

// Rested implements Limit (see forget.go).
func (l *RateLimiter) Rested() bool {
	tat, p := l.load()
	return p == nil || p.interval == 0 || tat <= l.now()
}

// Rested implements Limit (see forget.go).
func (b *TokenBudget) Rested() bool { return b.charged.Load() == 0 && b.bucket.Rested() }

// Rested implements Limit (see forget.go).
func (w *SlidingWindow) Rested() bool {
	if w.limit == 0 {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.prune(w.now())
	return w.sum == 0
}

// Rested implements Limit (see forget.go).
func (s *Semaphore) Rested() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	held, _ := s.state()
	return held == 0 && s.waiters.len() == 0
}

// Rested implements Limit (see forget.go).
func (a *AdaptiveLimit) Rested() bool { return a.sem.Rested() }
