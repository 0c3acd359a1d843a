package sluice

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// ErrQuotaExhausted is matched (errors.Is) by the error of a call refused
// because the account's quota or spend limit is used up, and by the error
// a Gate returns once halted for that reason. Retrying cannot help.
var ErrQuotaExhausted = errors.New("sluice: quota exhausted")

// ErrRetryBudget is matched by the error Do returns when a retry was
// needed but the retry budget had none left.
var ErrRetryBudget = errors.New("sluice: retry budget exhausted")

// Backoff computes how long to wait before a retry: exponential with full
// jitter, a uniformly random wait between 0 and min(Cap, Base×2^(n-1)) for
// the n-th retry. Full jitter spreads retries that failed together, so they
// do not come back together. The zero Backoff uses the defaults.
type Backoff struct {
	Base time.Duration // the first retry's ceiling; default 500ms
	Cap  time.Duration // no wait is longer; default 30s
}

// Delay returns a random wait for the n-th retry (n ≥ 1).
func (b Backoff) Delay(n int) time.Duration {
	base, limit := b.Base, b.Cap
	if base <= 0 {
		base = 500 * time.Millisecond
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
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// RetryBudget keeps retries a small fraction of first attempts over a
// sliding window, so that an API that fails everything sees at most
// (1 + Ratio) times the normal load, not a storm. A few retries per window
// are always allowed (Floor), so that a quiet client can still retry.
//
// The zero RetryBudget allows retries of 20% of first attempts plus 10 per
// 10-second window. A RetryBudget is safe for concurrent use; share one
// among all the calls to an API.
type RetryBudget struct {
	Ratio  float64       // retries allowed per first attempt; default 0.2
	Floor  int           // retries always allowed per window; default 10
	Window time.Duration // default 10s

	mu      sync.Mutex
	epoch   time.Time
	buckets [10]budgetBucket
}

type budgetBucket struct {
	slot            int64 // which tenth of which window this counts
	firsts, retries int
}

// Attempt records a first attempt, which earns Ratio retries.
func (b *RetryBudget) Attempt() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bucket().firsts++
}

// Retry takes one retry from the budget, reporting whether there was one.
func (b *RetryBudget) Retry() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.bucket()
	firsts, retries := 0, 0
	for i := range b.buckets {
		if b.buckets[i].slot > cur.slot-int64(len(b.buckets)) {
			firsts += b.buckets[i].firsts
			retries += b.buckets[i].retries
		}
	}
	ratio, floor := b.Ratio, b.Floor
	if ratio <= 0 {
		ratio = 0.2
	}
	if floor <= 0 {
		floor = 10
	}
	if float64(retries+1) > float64(floor)+ratio*float64(firsts) {
		return false
	}
	cur.retries++
	return true
}

// bucket returns the bucket for now, emptied if it held an older tenth of
// the window. b.mu is held.
func (b *RetryBudget) bucket() *budgetBucket {
	if b.epoch.IsZero() {
		b.epoch = time.Now()
	}
	window := b.Window
	if window <= 0 {
		window = 10 * time.Second
	}
	tenth := max(int64(window)/int64(len(b.buckets)), 1)
	slot := int64(time.Since(b.epoch))/tenth + 1
	bk := &b.buckets[slot%int64(len(b.buckets))]
	if bk.slot != slot {
		*bk = budgetBucket{slot: slot}
	}
	return bk
}

// RetryPolicy says which failed calls are tried again, and when. Retries
// go back through the gate, so they spend the same limits as first
// attempts, and wait out a gate-wide pause like everyone else.
//
// The zero RetryPolicy retries up to 8 times with the default Backoff and
// no budget.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt too; 0 means 9, 1 means no
	// retries.
	MaxAttempts int
	// Backoff spaces retries of transient failures. Overloaded APIs get
	// four times its waits.
	Backoff Backoff
	// MaxElapsed stops retrying once this long has passed since the first
	// attempt began; 0 means no limit.
	MaxElapsed time.Duration
	// Budget, when set, caps retries as a fraction of first attempts.
	Budget *RetryBudget
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
func (p RetryPolicy) Do(ctx context.Context, g *Gate, c Cost, call func(ctx context.Context) (Outcome, error)) (Outcome, int, error) {
	return p.run(ctx, g, c, func(ctx context.Context, permit *Permit) (Outcome, error) {
		o, err := call(ctx)
		permit.Done(o)
		return o, err
	})
}

// run is Do for callers that finish the permit themselves, perhaps later
// (the Transport holds it until the response body is read).
func (p RetryPolicy) run(ctx context.Context, g *Gate, c Cost, call func(context.Context, *Permit) (Outcome, error)) (Outcome, int, error) {
	maxAttempts := p.maxAttempts()
	begin := time.Now()
	if p.Budget != nil {
		p.Budget.Attempt()
	}
	var last Outcome
	var lastErr error
	for attempt := 1; ; attempt++ {
		var permit *Permit // stays nil without a gate
		if g != nil {
			var err error
			if permit, err = g.Acquire(ctx, c); err != nil {
				return last, attempt - 1, err
			}
		} else if err := ctx.Err(); err != nil {
			return last, attempt - 1, err
		}
		last, lastErr = call(ctx, permit)
		switch {
		case last.Class == ClassQuotaExhausted:
			if g != nil {
				g.Halt(quotaError(lastErr))
			}
			return last, attempt, lastErr
		case !last.Class.Retryable(), attempt >= maxAttempts:
			return last, attempt, lastErr
		case p.MaxElapsed > 0 && time.Since(begin) >= p.MaxElapsed:
			return last, attempt, lastErr
		case p.Budget != nil && !p.Budget.Retry():
			return last, attempt, fmt.Errorf("%w after %d attempts: %w", ErrRetryBudget, attempt, orClass(lastErr, last.Class))
		}
		if err := sleep(ctx, p.delay(attempt, last)); err != nil {
			return last, attempt, err
		}
	}
}

// maxAttempts returns MaxAttempts, or its default.
func (p RetryPolicy) maxAttempts() int {
	if p.MaxAttempts <= 0 {
		return 9
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
		return 4 * p.Backoff.Delay(n)
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

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
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
	}
}
