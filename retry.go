package sluice

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// ErrQuotaExhausted is matched (errors.Is) by the error of a call refused
// because the account's quota or spend limit is used up, and by the error
// a Gate returns once halted for that reason. Retrying cannot help.
var ErrQuotaExhausted = errors.New("sluice: quota exhausted")

// ErrRetryBudget is matched by the error Do returns when a retry was
// needed but the retry budget had none left.
var ErrRetryBudget = errors.New("sluice: retry budget exhausted")

// ErrRetryAfterTooLong is matched by the error a call ends with, not
// retried, when the API asked to wait longer than its gate's MaxPause
// (Limits.MaxPause) lets a pause last: a retry sooner would only be
// refused again. The error is a *RetryAfterError.
var ErrRetryAfterTooLong = errors.New("sluice: the API asks to wait longer than a pause may last")

// A RetryAfterError says how long the API asked to wait, and the MaxPause
// that is shorter. It matches ErrRetryAfterTooLong, and unwraps to the
// last attempt's error, if any.
type RetryAfterError struct {
	Wait, MaxPause time.Duration
	Err            error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("sluice: the API asks to wait %v, longer than a pause may last (MaxPause %v)", e.Wait, e.MaxPause)
}

// Is makes a RetryAfterError match ErrRetryAfterTooLong.
func (e *RetryAfterError) Is(target error) bool { return target == ErrRetryAfterTooLong }

// Unwrap returns the last attempt's error.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// Backoff computes how long to wait before a retry: exponential with full
// jitter, a uniformly random wait between 0 and min(Cap, Base×2^(n-1)) for
// the n-th retry. Full jitter spreads retries that failed together, so they
// do not come back together. The zero Backoff uses the defaults.
type Backoff struct {
	Base time.Duration // the first retry's ceiling; default 500ms
	Cap  time.Duration // no wait is longer; default 30s
}

// defaultBackoffBase is the zero Backoff's Base.
const defaultBackoffBase = 500 * time.Millisecond

// Delay returns a random wait for the n-th retry (n ≥ 1).
func (b Backoff) Delay(n int) time.Duration {
	base, limit := b.Base, b.Cap
	if base <= 0 {
		base = defaultBackoffBase
	}
	if limit <= 0 {
		limit = 30 * time.Second
	}
	ceiling := limit
	if n < 1 {
		n = 1
	}
	if n < 40 && base<<(n-1) > 0 && base<<(n-1) < limit {
		ceiling = base << (n - 1)
	}
	if ceiling == math.MaxInt64 {
		return time.Duration(rand.Int64()) // "no cap": one more would overflow
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// RetryBudget keeps the retries that fail a small fraction of first
// attempts over a sliding window, so that an API that fails everything sees
// at most (1 + Ratio) times the normal load, plus Floor retries per window,
// not a storm. A few retries per window are always allowed (Floor), so that
// a quiet client can still retry.
//
// A retry that succeeds gives its share back (RetrySucceeded): it did work
// rather than add to a storm. So the allowance does not collapse once a
// batch's first attempts are done and out of the window: against an API
// failing some calls the retries go on, while against one failing every
// call nothing comes back and the bound above holds.
//
// What happens to a retry the budget refuses is the caller's choice: Retry
// reports the refusal at once (live traffic, which fails fast), and Wait
// queues the retry until the budget allows it (batch work, which is paced
// but loses nothing). See BudgetMode.
//
// The zero RetryBudget allows retries of 20% of first attempts plus 10 per
// 10-second window. A RetryBudget is safe for concurrent use; share one
// among all the calls to an API. Attempt, on every call's path, costs a
// clock read and an atomic add while no retry waits for the budget (a
// mutex round trip once per tenth of the window, and while one waits);
// Retry and RetrySucceeded cost one mutex round trip. A RetryBudget
// takes about 6 KiB: its counts of first attempts are striped (see
// budgetBucket).
type RetryBudget struct {
	Ratio  float64       // retries allowed per first attempt; default 0.2
	Floor  int           // retries always allowed per window; default 10
	Window time.Duration // default 10s

	mu      sync.Mutex
	epoch   atomic.Pointer[time.Time] // set once, under mu; read by Attempt without it
	buckets [10]budgetBucket
	waiters waitQueue    // Wait callers, served in arrival order
	waiting atomic.Int32 // waiters.len(), for Attempt to read without mu
	stats   BudgetStats
}

// The buckets' slots and first attempts are atomic so that Attempt, once
// per call, can count without the mutex: it adds to the bucket whose slot
// is its own tenth, and leaves the rest (moving to a new tenth, granting
// waiters) to the locked path. A count can land in the wrong tenth only
// if its goroutine stalls for most of a window between reading the slot
// and adding: one first attempt misplaced, never a storm.
//
// Each bucket counts first attempts in stripes, a cache line each, by the
// caller's goroutine as a Gate counts admissions (gate_permits.go): with
// one counter, every call on one core waited for the line the other core
// had just written (60% of Attempt's time, 0.2% of a busy Transport's).
type budgetBucket struct {
	slot    atomic.Int64 // which tenth of which window this counts; written under mu
	_       [56]byte     // slot is read by every Attempt: no counter on its line
	firsts  [gateStripes]firstsStripe
	retries int
	// succeeded counts the retries that succeeded while this bucket was
	// the current one. It is subtracted from the window's retries, not
	// from the bucket the retry was taken in: a retry taken just before
	// that bucket left the window may so be given back twice, a small
	// and short-lived excess that keeps the bookkeeping to counters.
	succeeded int
}

// A firstsStripe is one stripe of a bucket's first attempts: added to
// without mu, reset under it.
type firstsStripe struct {
	n atomic.Int64
	_ [56]byte
}

// addFirst counts a first attempt in the caller's stripe.
func (bk *budgetBucket) addFirst() { bk.firsts[callerStripe()].n.Add(1) }

// countFirsts returns the bucket's first attempts.
func (bk *budgetBucket) countFirsts() int64 {
	var n int64
	for i := range bk.firsts {
		n += bk.firsts[i].n.Load()
	}
	return n
}

// BudgetStats counts what a RetryBudget did since it was made.
type BudgetStats struct {
	Retries int64 // retries allowed, waited for or not
	Waited  int64 // retries that waited for the budget (Wait)
	Refused int64 // retries refused (Retry), and waits given up
}

// Attempt records a first attempt, which earns Ratio retries.
func (b *RetryBudget) Attempt() { b.attemptAt(time.Now()) }

// attemptAt records a first attempt made at now, a time read recently
// (a permit's admission): a clock read fewer per call.
func (b *RetryBudget) attemptAt(now time.Time) { b.attemptAfter(now, 0) }

// attemptOf records the first attempt admitted with p, at its admission:
// for a gate with an epoch, with no Time built (Gate.at).
func (b *RetryBudget) attemptOf(p *Permit) {
	if p == nil || p.gate.epoch.IsZero() {
		b.attemptAt(p.admittedAt())
		return
	}
	b.attemptAfter(p.gate.epoch, p.since)
}

// attemptAfter is attemptAt for a first attempt made d after from.
func (b *RetryBudget) attemptAfter(from time.Time, d time.Duration) {
	if b.waiting.Load() == 0 { // else the attempt may grant a waiter its retry
		if epoch := b.epoch.Load(); epoch != nil {
			// The attempt may precede the epoch (admitted before another
			// call set it): such an attempt takes the locked path.
			if slot := int64((from.Sub(*epoch)+d)/b.tenth()) + 1; slot > 0 {
				if bk := &b.buckets[slot%int64(len(b.buckets))]; bk.slot.Load() == slot {
					bk.addFirst()
					return
				}
			}
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bucket().addFirst()
	b.grant()
}

// RetrySucceeded records that a retry succeeded, which gives back the
// retry it took.
func (b *RetryBudget) RetrySucceeded() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bucket().succeeded++
	b.grant()
}

// Retry takes one retry from the budget, reporting whether there was one.
// It never waits, and it never takes a retry ahead of a caller of Wait.
func (b *RetryBudget) Retry() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.waiters.len() > 0 || !b.allows(0) {
		b.stats.Refused++
		return false
	}
	b.take()
	return true
}

// Wait takes one retry from the budget, waiting until there is one: when
// first attempts or successful retries earn one, or when a spent retry
// leaves the window. Waiters are served in arrival order, and a waiter
// is woken by those events or by a timer at the time the budget predicts,
// never by polling. When ctx ends first, Wait returns ctx.Err() and the
// budget is as if it had not been called. A waiting retry holds nothing
// but its goroutine: no concurrency slot, no permit.
func (b *RetryBudget) Wait(ctx context.Context) error {
	return b.wait(ctx, nil)
}

// wait is Wait that also gives up, with errStopWaiting, when stop is
// closed (a halted gate).
func (b *RetryBudget) wait(ctx context.Context, stop <-chan struct{}) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	if b.waiters.len() == 0 && b.allows(0) {
		b.take()
		b.mu.Unlock()
		return nil
	}
	b.stats.Waited++
	w := &waiter{ready: make(chan struct{})}
	b.waiters.push(w)
	b.waiting.Add(1)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		next := b.next()
		b.mu.Unlock()
		d := max(time.Until(next), time.Millisecond)
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		var err error
		select {
		case <-w.ready:
			return nil
		case <-timer.C:
		case <-ctx.Done():
			err = ctx.Err()
		case <-stop:
			err = errStopWaiting
		}
		b.mu.Lock()
		if err == nil {
			b.grant()
			select {
			case <-w.ready:
				b.mu.Unlock()
				return nil
			default:
			}
			continue
		}
		select {
		case <-w.ready:
			// Granted while giving up: give the retry back.
			b.bucket().retries--
			b.stats.Retries--
		default:
			b.waiters.remove(w)
			b.waiting.Add(-1)
		}
		b.stats.Refused++
		b.grant()
		b.mu.Unlock()
		return err
	}
}

// errStopWaiting ends a wait for budget whose gate was halted; the caller
// turns it into the gate's error.
var errStopWaiting = errors.New("sluice: stopped waiting for retry budget")

// Stats returns the budget's counts so far.
func (b *RetryBudget) Stats() BudgetStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// allows reports whether a retry would be allowed once the k oldest
// tenths of the window have left it. b.mu is held.
func (b *RetryBudget) allows(k int) bool {
	cur := b.bucket().slot.Load()
	firsts, spent := int64(0), 0
	for i := range b.buckets {
		if b.buckets[i].slot.Load() > cur-int64(len(b.buckets))+int64(k) {
			firsts += b.buckets[i].countFirsts()
			spent += b.buckets[i].retries - b.buckets[i].succeeded
		}
	}
	ratio, floor := b.Ratio, b.Floor
	if ratio <= 0 {
		ratio = 0.2
	}
	if floor <= 0 {
		floor = 10
	}
	return float64(max(spent, 0)+1) <= float64(floor)+ratio*float64(firsts)
}

// take spends one retry. b.mu is held.
func (b *RetryBudget) take() {
	b.bucket().retries++
	b.stats.Retries++
}

// grant hands retries to waiters, in order, while the budget allows.
// b.mu is held.
func (b *RetryBudget) grant() {
	for w := b.waiters.front(); w != nil && b.allows(0); w = b.waiters.front() {
		b.waiters.remove(w)
		b.waiting.Add(-1)
		b.take()
		close(w.ready)
	}
}

// next predicts when the front waiter will be allowed a retry if nothing
// else happens: at the first tenth of the window whose leaving frees one.
// Once the whole window has gone only the floor counts, which allows one.
// b.mu is held.
func (b *RetryBudget) next() time.Time {
	cur := b.bucket().slot.Load()
	k := 1
	for ; k < len(b.buckets) && !b.allows(k); k++ {
	}
	return b.epoch.Load().Add(time.Duration(cur-1+int64(k)) * b.tenth())
}

// tenth is the length of one bucket.
func (b *RetryBudget) tenth() time.Duration {
	window := b.Window
	if window <= 0 {
		window = 10 * time.Second
	}
	return time.Duration(max(int64(window)/int64(len(b.buckets)), 1))
}

// bucket returns the bucket for now, emptied if it held an older tenth of
// the window. b.mu is held.
func (b *RetryBudget) bucket() *budgetBucket {
	epoch := b.epoch.Load()
	if epoch == nil {
		now := time.Now()
		epoch = &now
		b.epoch.Store(epoch)
	}
	slot := int64(time.Since(*epoch)/b.tenth()) + 1
	bk := &b.buckets[slot%int64(len(b.buckets))]
	if bk.slot.Load() != slot {
		// The counts first, then the slot: an Attempt that finds the new
		// slot adds to the new count.
		for i := range bk.firsts {
			bk.firsts[i].n.Store(0)
		}
		bk.retries, bk.succeeded = 0, 0
		bk.slot.Store(slot)
	}
	return bk
}

// BudgetMode says what a retry refused by the RetryBudget does.
type BudgetMode int

const (
	// BudgetAuto, the zero BudgetMode, waits in a Pool, and in a
	// Transport called with a Pool item's context, and fails fast
	// everywhere else (RetryPolicy.Do, a Transport serving live calls).
	BudgetAuto BudgetMode = iota
	// BudgetFailFast ends the call at once with an error matching
	// ErrRetryBudget: for live callers, who would rather fail than queue
	// behind an API in trouble.
	BudgetFailFast
	// BudgetWait queues the retry until the budget allows it
	// (RetryBudget.Wait), holding no concurrency slot meanwhile: for
	// batch work, where the budget should pace retries, not lose items.
	// The call then fails only when its attempts are spent, its context
	// ends, or its gate is halted.
	BudgetWait
)

// RetryPolicy says which failed calls are tried again, and when. Retries
// go back through the gate, so they spend the same limits as first
// attempts, and wait out a gate-wide pause like everyone else.
//
// The zero RetryPolicy makes up to DefaultMaxAttempts attempts with the
// default Backoff and no budget. A RetryPolicy is a value: copy it freely.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt too; 0 means
	// DefaultMaxAttempts, 1 means no retries.
	MaxAttempts int
	// Backoff spaces retries of transient failures. Overloaded APIs get
	// four times its Base, within the same Cap.
	Backoff Backoff
	// MaxElapsed stops retrying once this long has passed since the first
	// attempt began; 0 means no limit.
	MaxElapsed time.Duration
	// Budget, when set, caps retries as a fraction of first attempts.
	Budget *RetryBudget
	// BudgetMode says what a retry the Budget refuses does: wait for it
	// (batch work) or fail at once with ErrRetryBudget (live callers).
	// The zero value, BudgetAuto, waits in a Pool (and in a Transport
	// called with a Pool item's context) and fails fast in Do and in a
	// Transport otherwise; set BudgetWait on a Transport that serves a
	// batch of its own.
	BudgetMode BudgetMode
}

// Do runs call through the gate until it succeeds, fails for good, or runs
// out of attempts, and returns the last attempt's outcome, the number of
// attempts and the last attempt's error.
//
// call reports each attempt's Outcome; its Class decides: ok and fatal
// classes end at once, throttled, overloaded and transient ones are
// retried, and quota-exhausted halts the gate (every later Acquire fails
// with an error matching ErrQuotaExhausted). When ctx ends, or the gate
// refuses, Do returns that error. A nil gate admits every attempt at once.
// A retry the Budget refuses ends Do with ErrRetryBudget unless BudgetMode
// is BudgetWait.
//
// An attempt that could not reach its host (connection refused, no such
// host) is retried once, quickly, and the call then fails with an
// *UnreachableError naming the address (matching ErrUnreachable), its
// Outcome's class ClassFatal (a call out of attempts before that ends
// with the dial error, as any other); only when an earlier attempt of the call got
// an answer (a nil error or a *StatusError) does the host get a few quick
// retries, about 1.5 s in all, as one restarting. Do knows nothing of
// other calls to the host; a Transport remembers whether its host has
// answered any of them.
func (p RetryPolicy) Do(ctx context.Context, g *Gate, c Cost, call func(ctx context.Context) (Outcome, error)) (Outcome, int, error) {
	return p.run(ctx, g, c, func(ctx context.Context, permit *Permit) (Outcome, error) {
		// A panic in call must not keep the slot: a caller that recovers
		// (an HTTP server does, per request) lost it for good. Done is a
		// no-op once the attempt has reported, as in Pool.
		defer permit.Done(Outcome{Class: ClassCanceled})
		o, err := call(ctx)
		permit.Done(o)
		return o, err
	})
}

// run is Do for callers that finish the permit themselves, perhaps later
// (the Transport holds it until the response body is read). BudgetAuto
// means fail fast here: the Pool turns it into BudgetWait.
func (p RetryPolicy) run(ctx context.Context, g *Gate, c Cost, call func(context.Context, *Permit) (Outcome, error)) (Outcome, int, error) {
	return p.runTo(ctx, g, c, host{}, nil, call)
}

// firstAttempt is an attempt the caller of runTo made itself, admitted
// and counted in the budget as runTo would have: the Transport sends
// every request's first attempt without runTo's frames on the stack
// (Transport.RoundTrip says why), and hands runTo only one to retry.
type firstAttempt struct {
	o     Outcome
	err   error
	begin time.Time     // when the call began, read only when MaxElapsed needs it
	turn  time.Duration // its admission, as Permit.since: the retries' turn in line
}

// runTo is run for a call to a host of which more is known: its address,
// and whether it has answered other calls; first, when not nil, is the
// first attempt, already made.
func (p RetryPolicy) runTo(ctx context.Context, g *Gate, c Cost, to host, first *firstAttempt, call func(context.Context, *Permit) (Outcome, error)) (Outcome, int, error) {
	maxAttempts := p.maxAttempts()
	var begin time.Time // read only when MaxElapsed needs it: a clock read per call
	if first != nil {
		begin = first.begin
	} else if p.MaxElapsed > 0 {
		begin = time.Now()
	}
	var last Outcome
	var lastErr error
	refused := 0          // attempts in a row that could not reach the host
	answeredHere := false // an attempt of this call got an answer
	turn := noTurn        // the first admission's: a retry keeps its place in line (Gate.acquire)
	if first != nil {
		turn = first.turn
	}
	for attempt := 1; ; attempt++ {
		if attempt == 1 && first != nil {
			last, lastErr = first.o, first.err
		} else {
			var permit *Permit // stays nil without a gate
			if g != nil {
				var err error
				if permit, err = g.acquire(ctx, c, turn); err != nil {
					return last, attempt - 1, err
				}
				if attempt == 1 {
					turn = permit.since
				}
			} else if err := ctx.Err(); err != nil {
				return last, attempt - 1, err
			}
			if attempt == 1 && p.Budget != nil {
				// Counted once admitted, at the admission's time: a call
				// that never got in made no attempt, and the clock was read.
				p.Budget.attemptOf(permit)
			}
			last, lastErr = call(ctx, permit)
		}
		if attempt > 1 && last.Class == ClassOK && p.Budget != nil {
			p.Budget.RetrySucceeded()
		}
		switch {
		case last.Class == ClassOK:
			to.heard() // the one check on a success's path
			refused = 0
		case unreachable(lastErr):
			refused++
		default:
			refused = 0
			if answered(lastErr) {
				answeredHere = true
				to.heard()
			}
		}
		switch {
		case last.Class == ClassQuotaExhausted:
			if g != nil {
				g.Halt(quotaError(lastErr))
			}
			return last, attempt, lastErr
		case !last.Class.Retryable(), last.retriedBelow:
			return last, attempt, lastErr
		case refused > 0 && refused >= unreachableAttempts(answeredHere || to.known()):
			// Given up on the host, not out of attempts: retrying the
			// call later, as a whole, is all that can help.
			last.Class = ClassFatal
			return last, attempt, to.giveUpUnreachable(lastErr, refused, answeredHere)
		case g != nil && last.RateLimit != nil && last.RateLimit.HasRetryAfter && last.RateLimit.RetryAfter > g.learned.maxPause:
			// The API said when it would answer, later than a pause may
			// last: a retry at the pause's end would be refused again,
			// and an API asked early, over and over, flags the key.
			return last, attempt, &RetryAfterError{Wait: last.RateLimit.RetryAfter, MaxPause: g.learned.maxPause, Err: lastErr}
		case attempt >= maxAttempts:
			return last, attempt, lastErr
		case p.MaxElapsed > 0 && time.Since(begin) >= p.MaxElapsed:
			return last, attempt, lastErr
		}
		pause := p.delay(attempt, last)
		if refused > 0 {
			pause = p.unreachableDelay(refused)
		}
		budgetWait := false
		switch {
		case p.Budget == nil, refused > 0: // a quick retry of an unreachable host (unreachable.go)
		case p.BudgetMode == BudgetWait:
			budgetWait = true
		case !p.Budget.Retry():
			return last, attempt, fmt.Errorf("%w after %d attempts: %w", ErrRetryBudget, attempt, orClass(lastErr, last.Class))
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < pause {
			// The retry could not start before the caller's deadline:
			// the last answer now, as a Gate refuses at once a wait it
			// knows would outlast the deadline, not the deadline's error
			// after sleeping to it.
			return last, attempt, lastErr
		}
		if err := p.between(ctx, g, pause, budgetWait); err != nil {
			return last, attempt, err
		}
	}
}

// between waits before the next attempt: for the retry budget, when
// budgetWait says so, then out the rest of pause. The call holds no slot
// meanwhile, and tells so to the Pool worker it runs on, if any, which
// starts a spare worker for that time (pool_spare.go).
func (p RetryPolicy) between(ctx context.Context, g *Gate, pause time.Duration, budgetWait bool) error {
	if pause <= 0 && !budgetWait {
		return ctx.Err()
	}
	w := workerOf(ctx)
	w.waiting()
	defer w.goingOn()
	if budgetWait {
		// Off the main path: nothing is held while waiting, and the
		// wait counts towards the backoff.
		waitBegin := time.Now()
		if err := p.Budget.wait(ctx, g.haltedChan()); err != nil {
			if err == errStopWaiting {
				err = g.Halted()
			}
			return err
		}
		pause -= time.Since(waitBegin)
	}
	// The backoff ends with the gate: a retry of a halted gate could
	// only be refused, and a proxy stopping or a run interrupted must not
	// wait out a Retry-After of minutes to say so.
	var halted <-chan struct{}
	if pause > 0 {
		halted = g.haltedChan() // nil for a nil gate
	}
	if err := sleep(ctx, pause, halted); err != errStopWaiting {
		return err
	}
	return g.Halted()
}

// DefaultMaxAttempts is how many attempts a call gets when its
// RetryPolicy says nothing: the first and 8 retries. It is the one home of
// that default: `sluice run --retries` shows it, and the batch runner
// leaves MaxAttempts zero to get it.
const DefaultMaxAttempts = 9

// maxAttempts returns MaxAttempts, or its default.
func (p RetryPolicy) maxAttempts() int {
	if p.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return p.MaxAttempts
}

// delay is how long to wait before retry n after an attempt ended with o.
func (p RetryPolicy) delay(n int, o Outcome) time.Duration {
	switch {
	case o.RateLimit != nil && o.RateLimit.HasRetryAfter:
		// The gate is paused for the Retry-After; a little jitter keeps
		// the retries from lining up at its end.
		return p.Backoff.Delay(1) / 4
	case o.Class == ClassOverloaded:
		// Four times the base, within the same cap: an overloaded API
		// needs longer to recover, but no wait exceeds Cap.
		b := p.Backoff
		if b.Base <= 0 {
			b.Base = defaultBackoffBase
		}
		b.Base *= 4
		return b.Delay(n)
	}
	return p.Backoff.Delay(n)
}

// quotaError is what a gate halted for an exhausted quota returns.
func quotaError(err error) error {
	if err == nil || errors.Is(err, ErrQuotaExhausted) {
		if err == nil {
			return ErrQuotaExhausted
		}
		return err
	}
	return fmt.Errorf("%w: %w", ErrQuotaExhausted, err)
}

func orClass(err error, c Class) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("sluice: last attempt %v", c)
}

// sleep waits d, or until ctx ends or stop is closed (a nil stop never
// is), which it reports as errStopWaiting.
func sleep(ctx context.Context, d time.Duration, stop <-chan struct{}) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return errStopWaiting
	}
}
