package sluice

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Gate is the one admission point for calls to an API. It holds any number
// of Limits (a Semaphore for calls in flight, RateLimiters, SlidingWindows,
// TokenBudgets) and admits a call only when every one of them admits it, all
// at once: a call waiting for rate holds no concurrency slot, and a call
// that gives up has consumed no rate and no tokens.
//
// Callers wait in one line, by priority (WithPriority) and then by arrival.
// While anyone is in line, only the caller at the front checks the limits;
// it sleeps until the limit that refused it could admit it (a time for a
// rate, a release for a semaphore), so a crowd of waiters costs nothing
// while it waits. With nobody in line, a caller asks the limits at once,
// without the gate's mutex.
//
// A Gate can be paused until a time, the shared cool-down when an API says
// it is throttling: every caller waits until then, and a later pause extends
// it while an earlier one changes nothing.
//
// Acquire returns a Permit; Permit.Done reports how the call went, which
// releases concurrency and settles token estimates with real usage.
//
// The zero Gate has no limits. A Gate is safe for concurrent use. An
// Acquire with nobody in line costs one read of the monotonic clock, each
// limit's own cost (a compare-and-swap for a rate, a token budget or a
// semaphore nobody waits on), one atomic addition, and a 67-byte share of
// an allocation (Permits are allocated permitsPerSlab together). Done
// costs each limit's own cost and two atomic operations, and a success
// an atomic load more (two and a clock read while the gate paces by
// 429s, learn_throttle.go). A caller that
// waits in line costs a mutex round trip or two and, when a concurrency
// slot frees, one wake-up (gate_passon.go), and allocates nothing once the
// gate has had as many callers in line before. Callers on
// several cores at once share only the limits' cache lines: the gate's own
// counters are kept apart for each (see gate_permits.go).
type Gate struct {
	// Read by every admission and seldom written. They are kept on cache
	// lines of their own, away from the counters below that every
	// admission writes: on another core, a read of a line just written
	// waits for the writer's copy.
	limits []Limit   // learned limits first, then the user's; semaphores last
	shared Shared    // nil: every limit is in this process (see shared.go)
	epoch  time.Time // see clock; zero for the zero Gate
	// timed reports that a limit reads Outcome.Latency (see
	// usesLatency), so Permit.Done measures it when the caller did not.
	timed bool
	// dated reports that a limit counts a call from when it leaves (a
	// SlidingWindow, or a window of the shared limits): the Transport
	// tells the Permit (transport_sent.go).
	dated bool
	// learning is set once the gate first learns from headers: until
	// then its learned limits have no rate and admissions skip them (see
	// from).
	learning atomic.Bool
	skip     int // how many learned limits lead limits; 0 for the zero Gate
	// adaptive is the first of limits that is an AdaptiveLimit, for
	// Permit.responded; nil when none.
	adaptive *AdaptiveLimit
	// sole is adaptive when it is the gate's one limit besides the
	// learned ones (a Transport's gate for Limits{Concurrency: n}, the
	// usual), nil otherwise: such an admission and its Done call it
	// directly, not through the Limit interface, while nothing is
	// learned (see tryLimits, Permit.Done).
	sole *AdaptiveLimit
	// The fast path (see Acquire) reads these without g.mu: how many
	// callers are in line, and whether a pause or a halt is set. They
	// change under g.mu, with what they mirror.
	inLine  atomic.Int32
	paused  atomic.Bool
	stopped atomic.Bool
	// heard is set once a response to one of the gate's calls carried a
	// rate-limit header (mayLimit): from then on the Transport searches
	// every response for them (Permit.searchesHeaders).
	heard atomic.Bool

	_       [40]byte // with adaptive's and sole's 16 (and learned's ring pointer), the stripes stay a line each
	learned learned  // written by every admission once the gate has learned

	mu          sync.Mutex
	waiters     waitQueue
	asking      bool // a caller is in shared.Admit: nobody else may ask
	pausedUntil time.Time
	halted      error
	haltCh      chan struct{} // made on demand; closed by Halt

	// Written by every admission and Done: a cache line for each group
	// of callers (see gate_permits.go).
	stripes [gateStripes]gateStripe

	throttled atomic.Int64
	pauses    atomic.Int64
	margin    learnedMargin // widened by the given rate's 429s (margin.go)
	paced429  paceOf429     // the pace learned from 429s alone (learn_throttle.go)
	// sharedPace is the pace learned from 429s that the gate last knew
	// its shared limits to hold, in calls a second as math.Float64bits;
	// 0: none (learn_shared.go).
	sharedPace atomic.Uint64

	spare *waiter // under mu: waiters that left the line, for the next (newWaiter); linked by next
}

// DefaultMaxPause caps how long one Retry-After or reset may pause a gate.
const DefaultMaxPause = 5 * time.Minute

// NewGate returns a Gate enforcing all the given limits together. A limit
// may belong to several gates (a token budget shared by two routes, say);
// admission stays all-or-nothing, though fairness holds only within a gate.
//
// The gate also learns from the rate-limit headers its calls report in
// Outcome.RateLimit and, from an API that sends none of its request
// limit, a pace from its rate 429s (ClassThrottled); what it learns only
// ever tightens the given limits.
// Use Limits.NewGate to build a gate from an API's published numbers.
//
// A nil limit is a mistake in the caller's code: NewGate panics naming it.
func NewGate(limits ...Limit) *Gate {
	for i, l := range limits {
		if isNil(l) {
			panic(fmt.Sprintf("sluice: NewGate: limit %d of %d is nil (%T)", i, len(limits), l))
		}
	}
	g := &Gate{epoch: time.Now()}
	g.learned.init(DefaultMaxPause)
	ls := append(g.learned.limits(), limits...)
	// Semaphores last: a slot is taken only once every rate has said yes,
	// and a refused slot is the only failure that waits for an event.
	sort.SliceStable(ls, func(i, j int) bool { return !ls[i].Info().Holds && ls[j].Info().Holds })
	g.limits = ls
	g.skip = learnedLimits
	for _, l := range ls {
		g.timed = g.timed || usesLatency(l)
		g.dated = g.dated || datesSends(l) && l != Limit(&g.learned.requests) // the learned pace asks itself (learnsSends)
		if a, ok := l.(*AdaptiveLimit); ok && g.adaptive == nil {
			g.adaptive = a
		}
	}
	if len(ls) == g.skip+1 {
		g.sole, _ = ls[g.skip].(*AdaptiveLimit)
	}
	return g
}

// usesLatency reports whether l's Finish reads Outcome.Latency. This
// package's limits that do not are listed; any other limit, the
// AdaptiveLimit and limits from other packages, gets it measured.
func usesLatency(l Limit) bool {
	switch l.(type) {
	case *Semaphore, *RateLimiter, *SlidingWindow, *TokenBudget:
		return false
	}
	return true
}

// Acquire waits until the call described by c may start and returns its
// Permit; the caller must call Permit.Done when the call ends. When ctx is
// done first, Acquire returns ctx.Err() and the gate and its limits are as
// if it had never been called.
//
// When ctx has a deadline that comes before the admission the limits
// predict (a pause, a rate or a token budget that needs longer, counting
// the callers ahead in line), Acquire fails at once with a *WaitError,
// which matches ErrWouldExceedDeadline and context.DeadlineExceeded, and
// takes nothing: a caller that cannot be served in time does not hold up
// the ones behind it. The prediction is a lower bound (a release of
// concurrency cannot be foreseen), so a caller may still wait and then
// get ctx.Err(). A maximum wait is thus context.WithTimeout(ctx, max).
//
// When c asks more than one of the gate's limits could ever admit (a
// token budget's tokens per period, a window's or a rate's count),
// Acquire fails at once with a *TooLargeError, which matches ErrTooLarge,
// and takes nothing; a Semaphore runs such a weight alone instead.
func (g *Gate) Acquire(ctx context.Context, c Cost) (*Permit, error) {
	return g.acquire(ctx, c, noTurn)
}

// noTurn is acquire's turn for a caller that takes its place in line
// when it joins it.
const noTurn = time.Duration(-1)

// acquire is Acquire for a caller whose place in line, among callers of
// its priority, is turn (a time since the gate's epoch, as Permit.since),
// or when it joins for noTurn: a retry keeps the turn of its call's first
// admission, ahead of the calls that came after it (an outside review: a
// proxy's two 429ed calls waited behind four later ones for the next 25
// s, and were handed back their stale 429 at their client's deadline).
func (g *Gate) acquire(ctx context.Context, c Cost, turn time.Duration) (*Permit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := g.tooLarge(c); err != nil {
		return nil, err // more than a limit could ever admit (toolarge.go)
	}
	// The fast path: with nobody in line, no pause, no halt and no shared
	// limits, ask the limits without the gate's mutex. Limits are safe for
	// concurrent use and a refusal gives back what was taken, so this is
	// all-or-nothing as under the mutex; a caller that raced one joining
	// the line is served as if it had come first, which it nearly did.
	if g.inLine.Load() == 0 && !g.paused.Load() && !g.stopped.Load() && g.shared == nil {
		from := g.from()
		if a := g.sole; a != nil && from == g.skip {
			// The one limit asks no time: a Time fewer per call, whose
			// building from the epoch cost as much as the clock read.
			since := g.sinceEpoch()
			if a.take(c) {
				return g.admit(c, since, from), nil
			}
		} else {
			now, since := g.clock()
			if wait, _ := g.tryLimits(c, now, 0, nil, from); wait == 0 {
				return g.admit(c, since, from), nil
			}
		}
	}
	g.mu.Lock()
	if g.halted != nil {
		err := g.halted
		g.mu.Unlock()
		return nil, err
	}
	if g.waiters.len() == 0 && g.shared == nil {
		now, since := g.clock()
		from := g.from()
		if wait, _ := g.try(c, now, 0, nil, from); wait == 0 {
			g.mu.Unlock()
			return g.admit(c, since, from), nil
		}
	}
	priority := PriorityFrom(ctx)
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		if wait := g.predict(c, priority, nil); time.Now().Add(wait).After(deadline) {
			g.mu.Unlock()
			return nil, &WaitError{Wait: wait}
		}
	}
	kept := turn != noTurn
	if !kept {
		turn = g.sinceEpoch()
	}
	w := g.newWaiter(priority, c)
	w.turn, w.kept = turn, kept
	var marks []int64 // what the gate's own limits took, while shared limits are asked
	if g.shared != nil {
		marks = make([]int64, len(g.limits))
	}
	g.join(w)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var late time.Duration // how far past its time the timer woke us
	for {
		if g.halted != nil {
			g.leave(w)
			err := g.halted
			g.mu.Unlock()
			return nil, err
		}
		var wait time.Duration = waitForChange
		var change <-chan struct{}
		var waitFrom time.Time // when wait is counted from; zero: now
		if g.waiters.front() == w && !g.asking {
			var ok bool
			now, since := g.clock()
			if hasDeadline && !now.Before(deadline) {
				// Its deadline has passed, whether or not its context has
				// said so yet (a proxy's ends at a timer of its own,
				// which may fire a moment after the release this caller
				// was woken for): admitted now, it would take a slot and
				// a unit of rate for a call its caller can no longer
				// make (an outside review: requests never sent were
				// counted as attempts, and took the rate of the next).
				g.leave(w)
				g.wakeFront()
				g.mu.Unlock()
				return nil, context.DeadlineExceeded
			}
			from := g.from()
			if wait, change, ok = g.tryFront(c, now, late, marks, from); !ok {
				waitFrom = now
			} else {
				if g.shared == nil {
					g.leave(w)
					g.passOn(now, from)
					g.mu.Unlock()
					return g.admit(c, since, from), nil
				}
				p, swait, err := g.askShared(ctx, c, w, marks)
				if p != nil || err != nil {
					return p, err // g.mu released
				}
				wait, change = swait, g.shared.Changed()
				if hasDeadline && wait > 0 && time.Now().Add(wait).After(deadline) {
					g.leave(w)
					g.wakeFront()
					g.mu.Unlock()
					return nil, &WaitError{Wait: wait}
				}
			}
			if hasDeadline && wait > 0 && time.Now().Add(wait).After(deadline) {
				// The limits' own wait says late; the prediction, which
				// counts refunds still to come, decides.
				if p := g.predict(c, priority, w); time.Now().Add(p).After(deadline) {
					// It cannot be admitted in time: leave now,
					// holding nothing, and let the next caller try.
					g.leave(w)
					g.wakeFront()
					g.mu.Unlock()
					return nil, &WaitError{Wait: p}
				}
			}
		}
		g.mu.Unlock()

		var expired <-chan time.Time
		var due time.Time
		if wait > 0 {
			// Due as the limits counted it, from the time they were
			// asked, not from now, a moment later: that moment, lost at
			// every wait, slowed a paced batch by 0.05%.
			timeNow := time.Now()
			if waitFrom.IsZero() {
				waitFrom = timeNow
			}
			due = waitFrom.Add(wait)
			if timer == nil {
				timer = time.NewTimer(due.Sub(timeNow))
			} else {
				timer.Reset(due.Sub(timeNow))
			}
			expired = timer.C
		}
		if done := ctx.Done(); done == nil && change == nil && expired == nil {
			// Only a wake-up can end this wait (a context that never
			// ends, in line or noticed by a limit): a receive costs less
			// than a select.
			<-w.ready
			late = 0
			g.mu.Lock()
			continue
		}
		select {
		case <-ctx.Done():
			g.mu.Lock()
			if g.leave(w) {
				g.wakeFront()
			}
			g.mu.Unlock()
			return nil, ctx.Err()
		case <-w.ready:
			late = 0
		case <-change:
			late = 0
		case <-expired:
			late = time.Since(due)
		}
		g.mu.Lock()
	}
}

// predict returns a lower bound on how long a caller with priority p
// asking c would wait: the pause, and the time every time-paced limit
// needs for c after the callers that would stay ahead of it (those in
// front of self, when it is in line). g.mu is held.
func (g *Gate) predict(c Cost, p int, self *waiter) time.Duration {
	var wait time.Duration
	if !g.pausedUntil.IsZero() {
		wait = max(wait, time.Until(g.pausedUntil))
	}
	var ahead Cost
	for w := g.waiters.front(); w != nil && w != self && w.priority >= p; w = w.next {
		ahead.Requests += w.cost.requests()
		ahead.InputTokens += max(w.cost.InputTokens, 0)
		ahead.OutputTokens += max(w.cost.OutputTokens, 0)
	}
	for _, l := range g.limits {
		wait = max(wait, l.Predict(ahead, c))
	}
	return wait
}

// tryFront is try for the caller at the front of the line. When refused, it
// also returns the refusing limit's change channel, fetched before a second
// try so that a release between the two cannot be missed. g.mu is held.
func (g *Gate) tryFront(c Cost, now time.Time, late time.Duration, keep []int64, from int) (time.Duration, <-chan struct{}, bool) {
	wait, refused := g.try(c, now, late, keep, from)
	if wait == 0 {
		return 0, nil, true
	}
	for {
		var change <-chan struct{}
		if refused >= 0 {
			change = g.limits[refused].Changed()
		}
		again, refusedAgain := g.try(c, now, late, keep, from)
		if again == 0 {
			return 0, nil, true
		}
		if refusedAgain == refused {
			return again, change, false
		}
		refused = refusedAgain
	}
}

// try takes what c asks of every limit at now, or nothing, as of late
// before now (see Limit). When refused it returns how long to wait (or
// waitForChange) and the index of the refusing limit, -1 for a pause. When
// it takes, it copies the marks into keep, unless keep is nil, for
// untakeAll. g.mu is held.
func (g *Gate) try(c Cost, now time.Time, late time.Duration, keep []int64, from int) (wait time.Duration, refused int) {
	if !g.pausedUntil.IsZero() {
		if d := g.pausedUntil.Sub(now); d > 0 {
			return d, -1
		}
		g.pausedUntil = time.Time{}
		g.paused.Store(false)
	}
	return g.tryLimits(c, now, late, keep, from)
}

// tryLimits is try without the pause, asking g.limits[from:]; it needs no
// lock.
func (g *Gate) tryLimits(c Cost, now time.Time, late time.Duration, keep []int64, from int) (wait time.Duration, refused int) {
	if keep == nil && from == len(g.limits)-1 {
		// One limit to ask and no marks to keep (the fast path of a gate
		// with a concurrency limit alone, the Transport's usual): nothing
		// to give back on a refusal, so no marks to collect.
		if a := g.sole; a != nil {
			if !a.take(c) {
				return waitForChange, from
			}
			return 0, 0
		}
		if wait, _ := g.limits[from].Take(c, now, late); wait != 0 {
			return wait, from
		}
		return 0, 0
	}
	var buf [8]int64
	marks := buf[:0]
	if from > len(buf) {
		marks = make([]int64, 0, len(g.limits))
	}
	marks = marks[:from]
	for i := from; i < len(g.limits); i++ {
		wait, mark := g.limits[i].Take(c, now, late)
		if wait != 0 {
			for j := i - 1; j >= from; j-- {
				g.limits[j].Untake(c, marks[j])
			}
			return wait, i
		}
		marks = append(marks, mark)
	}
	copy(keep, marks)
	return 0, 0
}

// learnedLimits is how many limits learned from headers lead g.limits.
var learnedLimits = len((&learned{}).limits())

// from is the index of the first limit an admission asks now: past the
// learned limits while the gate has learned nothing (they have no rate
// and would only cost time), 0 once it has. A Permit remembers it, so
// that Done finishes exactly the limits that were taken. A gate with
// shared limits always asks all (its give-backs cover all).
func (g *Gate) from() int {
	if g.shared != nil || g.learning.Load() {
		return 0
	}
	return g.skip
}

// join puts w in line. g.mu is held.
func (g *Gate) join(w *waiter) {
	g.waiters.push(w)
	g.inLine.Add(1)
}

// leave takes w out of the line, if it is in it, and reports whether it
// was at the front. w is kept for a later caller (newWaiter): its caller
// must not use it after. g.mu is held.
func (g *Gate) leave(w *waiter) (wasFront bool) {
	if !w.queued {
		return false
	}
	g.inLine.Add(-1)
	wasFront = g.waiters.remove(w)
	w.next, g.spare = g.spare, w
	return wasFront
}

// wakeFront tells the caller now at the front of the line to try. g.mu is
// held.
func (g *Gate) wakeFront() {
	if w := g.waiters.front(); w != nil {
		select {
		case w.ready <- struct{}{}:
		default:
		}
	}
}

// clock reads the time for an admission. It reads the monotonic clock
// only, which costs a third of time.Now on some virtual machines: the wall
// reading is the gate's creation plus the time since, so it does not
// follow a step of the system's wall clock (nothing in an admission
// needs it to). It returns the time since the gate's epoch too, which
// admit needs, as it came: a Time.Sub fewer per admission (0 for the
// zero Gate, which has no epoch).
func (g *Gate) clock() (now time.Time, since time.Duration) {
	if g.epoch.IsZero() {
		now = time.Now()
		return now, time.Duration(now.UnixNano())
	}
	since = time.Since(g.epoch)
	return g.epoch.Add(since), since
}

// sinceEpoch is clock's since alone: a clock read, and no Time built
// (Time.Add costs about as much as the read).
func (g *Gate) sinceEpoch() time.Duration {
	if g.epoch.IsZero() {
		return time.Duration(time.Now().UnixNano())
	}
	return time.Since(g.epoch)
}

// at returns the time since stands for, as clock returned them together:
// since after the gate's epoch, or, for the zero Gate, which has none,
// since after the Unix epoch (a wall reading).
func (g *Gate) at(since time.Duration) time.Time {
	if g.epoch.IsZero() {
		return time.Unix(0, int64(since))
	}
	return g.epoch.Add(since)
}

// elapsed returns the time since since (see at), monotonic unless the
// gate is the zero Gate.
func (g *Gate) elapsed(since time.Duration) time.Duration {
	if g.epoch.IsZero() {
		return time.Duration(time.Now().UnixNano()) - since
	}
	return time.Since(g.epoch) - since
}

// admit counts an admission at since (see clock) and returns its Permit.
func (g *Gate) admit(c Cost, since time.Duration, from int) *Permit {
	p := g.newPermit()
	p.gate, p.cost, p.since, p.from = g, c, since, int32(from)
	if from != 0 {
		g.learned.noteUnpaced(since) // for the first learning (learn.go)
	}
	return p
}

// PauseUntil makes every caller wait until t: the shared cool-down after
// the API said it is throttling. A pause ending earlier than the current
// one, or a time already past, changes nothing (and is not counted in
// GateStats.Pauses).
//
// A gate with shared limits (NewSharedGate, Limits.Store) shares the pause
// with every process through them.
func (g *Gate) PauseUntil(t time.Time) {
	if g.pauseLocal(t) && g.shared != nil {
		g.shared.Pause(t)
	}
}

// pauseLocal is PauseUntil in this process alone; it reports whether the
// pause began or was extended.
func (g *Gate) pauseLocal(t time.Time) bool {
	g.mu.Lock()
	// Rebase t on the monotonic clock: times parsed from headers carry
	// none, and the wall clock may jump.
	now := time.Now()
	t = now.Add(t.Sub(now))
	extended := t.After(now) && t.After(g.pausedUntil)
	if extended {
		g.pausedUntil = t
		g.paused.Store(true)
		g.pauses.Add(1)
	}
	g.mu.Unlock()
	return extended
}

// Halt stops the gate for good: every waiting and future Acquire returns
// err. Use it when the API says the account's quota is exhausted, so that
// no call is started that is bound to fail. Later calls change nothing.
func (g *Gate) Halt(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.halted != nil {
		return
	}
	g.halted = err
	g.stopped.Store(true)
	if g.haltCh != nil {
		close(g.haltCh)
	}
	for w := g.waiters.front(); w != nil; w = w.next {
		select {
		case w.ready <- struct{}{}:
		default:
		}
	}
}

// haltedChan returns a channel closed once the gate is halted; nil for a
// nil gate. It lets a wait outside the gate (a retry waiting for budget)
// end with the gate.
func (g *Gate) haltedChan() <-chan struct{} {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.haltCh == nil {
		g.haltCh = make(chan struct{})
		if g.halted != nil {
			close(g.haltCh)
		}
	}
	return g.haltCh
}

// Resume undoes Halt: the gate admits calls again. It is for a live
// service that learns the quota was raised (billing fixed) and need not
// restart; a batch stops instead. Calls refused meanwhile stay refused.
func (g *Gate) Resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.halted == nil {
		return
	}
	g.halted = nil
	g.stopped.Store(false)
	g.haltCh = nil // closed: the next wait gets a new one
}

// Halted returns the error the gate was halted with, or nil.
func (g *Gate) Halted() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.halted
}

// PausedUntil returns the end of the current pause, or the zero Time when
// the gate is not paused. For a gate with shared limits it is also the
// pause another process shared, once this process has met it (see
// Shared): no round trip is made to ask.
func (g *Gate) PausedUntil() time.Time {
	until := g.pausedLocally()
	if p, ok := g.shared.(sharedPause); ok {
		if t := p.PausedUntil(); t.After(until) {
			until = t
		}
	}
	return until
}

// pausedLocally is PausedUntil of this process's own pause.
func (g *Gate) pausedLocally() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	if time.Until(g.pausedUntil) <= 0 {
		return time.Time{}
	}
	return g.pausedUntil
}

// GateStats is a snapshot of a Gate's counters.
type GateStats struct {
	Waiting   int   // callers blocked in Acquire
	InFlight  int64 // admitted calls not yet Done
	Admitted  int64 // calls admitted so far
	Completed int64 // calls Done so far
	Throttled int64 // calls whose Outcome was ClassThrottled
	Pauses    int64 // times a pause began or was extended
	Ceiling   int   // the concurrency limit now (adaptive or fixed); 0 for none
	// PausedUntil is the end of the pause in force (PausedUntil), the
	// zero Time when none; Transport.Stats gives the latest of its gates'.
	PausedUntil time.Time
	// Learned is the request rate learned from the API's headers or its
	// 429s (LearnedRate), zero when none; Transport.Stats adds its gates'
	// rates up, per second.
	Learned Rate
}

// Stats returns the gate's counters.
func (g *Gate) Stats() GateStats {
	g.mu.Lock()
	waiting := g.waiters.len()
	g.mu.Unlock()
	admitted, completed := g.admittedSoFar(), g.completedSoFar()
	ceiling := 0
	for _, l := range g.limits {
		if info := l.Info(); info.Holds {
			ceiling = info.Ceiling
		}
	}
	return GateStats{
		Ceiling: ceiling, PausedUntil: g.PausedUntil(), Learned: g.LearnedRate(),
		Waiting: waiting, InFlight: admitted - completed,
		Admitted: admitted, Completed: completed, Throttled: g.throttled.Load(), Pauses: g.pauses.Load(),
	}
}

// A Permit is one admitted call. Done must be called exactly once, when
// the call ends; later calls of Done do nothing. A Permit is safe for
// concurrent use.
//
// A Permit is 64 bytes, allocated with others in a slab (newPermit): every
// byte is garbage once the call ends, so what is rare (a ticket) is kept
// behind a pointer, and its admission is kept as a Duration since the
// gate's epoch (Gate.at), not a Time: 16 bytes fewer per call, and no
// Time built at admission for a gate whose limits ask none.
type Permit struct {
	gate   *Gate
	cost   Cost
	since  time.Duration // when it was admitted, see Gate.at
	shared *sharedTicket // from the gate's shared limits; nil when none
	from   int32         // the first of the gate's limits taken (Gate.from)
	state  atomic.Uint32 // permitDone, permitHeaded
}

// Bits of Permit.state.
const (
	permitDone    = 1 << iota // Done was called
	permitHeaded              // responded grew the gate's adaptive ceiling
	permitSent                // sent dated the call (transport_sent.go)
	permitCharged             // headersWritten judged whether it left late
)

// responded tells the gate that the call's response headers came back
// healthy while its body is still to be read: in slow start, the gate's
// adaptive ceiling grows now rather than when the body ends
// (AdaptiveLimit.headed). Costs an atomic load once slow start is over.
func (p *Permit) responded() {
	if p == nil || p.gate.adaptive == nil || !p.gate.adaptive.slowStarting.Load() {
		return
	}
	if p.state.Load()&permitDone == 0 && p.gate.adaptive.headed() {
		p.state.Or(permitHeaded)
	}
}

// A sharedTicket is what a Permit keeps of a gate's shared limits.
type sharedTicket struct{ ticket Ticket }

// Done reports how the call ended: it releases the call's concurrency,
// settles its token estimate with o.Usage, and feeds the outcome to limits
// that learn from it. A zero o.Latency is measured from admission when a
// limit learns from latency (an AdaptiveLimit, a shared limit, a Limit of
// another package); the others are told 0, and a clock read is saved.
func (p *Permit) Done(o Outcome) {
	if p == nil {
		return // admitted by no gate (RetryPolicy.Do with a nil gate)
	}
	was := p.state.Or(permitDone)
	if was&permitDone != 0 {
		return
	}
	o.headed = was&permitHeaded != 0
	if p.cost.unsent && was&permitSent == 0 {
		p.date() // never said to have left: counted from now, the latest it can have
	}
	g := p.gate
	if o.Latency == 0 && !o.unmeasured && (g.timed || p.shared != nil) {
		o.Latency = g.elapsed(p.since)
	}
	// A 429's cool-down is set before the call lets go of its slot: a
	// caller waiting for the slot could otherwise be admitted in the
	// moment between, and sent into the cool-down the 429 asked for (a
	// CI run: the next call to a host that had said Retry-After: 1 went
	// at once).
	learnedEarly := o.Class == ClassThrottled && o.RateLimit != nil
	if learnedEarly {
		g.learnWhileInFlight(o)
	}
	if a := g.sole; a != nil && int(p.from) == g.skip {
		a.finishAt(p.cost, g, p.since, o) // the one limit taken, called directly
	} else {
		start := g.at(p.since)
		for _, l := range g.limits[p.from:] {
			l.Finish(p.cost, start, o)
		}
	}
	if p.shared != nil {
		p.shared.ticket.Finish(o)
	}
	// A call counts itself throttled, or reads the last decrease of a
	// pace learned from 429s, before it counts itself done: what a
	// decrease counts done is then told apart from what it counts in
	// flight (tally429, tookLate).
	var nth int64
	var late time.Duration
	firstWidened := false
	switch o.Class {
	case ClassThrottled:
		nth = g.throttled.Add(1)
		if !o.ConcurrencyLimited {
			// A call the shared limits did not keep alone is forgiven
			// as the first 429 under a given rate is (unsharedTicket),
			// and widens no margin: the gate's pace was not at fault.
			firstWidened = p.shared.unshared() || g.margin.widen()
		}
	case ClassOK:
		late = time.Duration(g.paced429.late.Load())
	}
	g.stripe().completed.Add(1)
	if o.RateLimit != nil && !learnedEarly {
		g.learn(o)
	}
	switch {
	case o.Class == ClassThrottled:
		if !firstWidened && !o.ConcurrencyLimited {
			g.sharedInForce() // a shared gate's calls came at its given rate (learn_shared.go)
		}
		g.learnThrottled(g.at(p.since), o, nth, firstWidened) // after learn: its Retry-After pauses the gate first
	case o.Class == ClassOK && g.paced429.next.Load() != 0:
		g.tookThrottled(g.at(p.since), late) // paced by 429s alone (learn_throttle.go)
	}
}

// Cost returns what the call was charged at admission.
func (p *Permit) Cost() Cost { return p.cost }

// isNil reports whether l is nil, or a nil pointer in a Limit's clothing
// ((*RateLimiter)(nil)), whose first method call would crash far from
// the mistake.
func isNil(l Limit) bool {
	if l == nil {
		return true
	}
	v := reflect.ValueOf(l)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
