package sluice

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// TokenKind says which of a call's tokens a TokenBudget counts.
type TokenKind int

const (
	// AllTokens counts input and output tokens together.
	AllTokens TokenKind = iota
	// InputTokens counts prompt tokens only (Anthropic's input-tokens limit).
	InputTokens
	// OutputTokens counts generated tokens only (Anthropic's output-tokens limit).
	OutputTokens
)

// String names the kind as the flags do.
func (k TokenKind) String() string {
	switch k {
	case InputTokens:
		return "input tokens"
	case OutputTokens:
		return "output tokens"
	}
	return "tokens"
}

// of returns the tokens of this kind in an estimate or a usage. Negative
// counts are 0, and the total saturates rather than wrapping around to a
// small or negative number.
func (k TokenKind) of(in, out int) int {
	in, out = max(in, 0), max(out, 0)
	switch k {
	case InputTokens:
		return in
	case OutputTokens:
		return out
	}
	return in + min(out, math.MaxInt-in)
}

// TokenBudget limits LLM tokens per period the way the APIs do: a bucket
// holding one period's worth of tokens, refilled continuously. A call is
// charged its estimate when it is admitted, since the real count is known
// only afterwards, and Settle corrects the charge with the real usage:
// tokens estimated but not used are refunded, tokens used beyond the
// estimate are charged extra.
//
// A request estimated at more tokens than the whole budget never waits
// forever: it is admitted when the bucket is full and leaves a debt, so the
// calls after it wait until the bucket has refilled past zero. The budget
// is kept on average, which is what the APIs enforce. Through a Gate such
// a request is refused at once instead (ErrTooLarge), taking nothing.
//
// The zero TokenBudget has no limit. A TokenBudget is safe for concurrent
// use; admission costs what RateLimiter.AllowN costs.
type TokenBudget struct {
	// The first cache line holds what every admission reads and only a
	// SetRate or a waiter writes: the fields below and the bucket's
	// setting and clock. The second holds what every admission writes:
	// the bucket's timeline and charged. A Gate reads the setting (the
	// budget's capacity, see tooLarge) well before it takes: sharing the
	// timeline's line, that read would wait for another core's last
	// write, and the take for it again. 128 bytes in all, so that a
	// TokenBudget of its own starts a line (TestTokenBudgetLines).
	kind   TokenKind
	mu     sync.Mutex
	change chan struct{} // closed when a refund or a new rate may admit sooner
	// watched is set while change is non-nil, so that a refund nobody
	// waits for skips the mutex. Set before Changed returns, it is seen
	// by any refund whose timeline change a waiter's next Take missed.
	watched atomic.Bool
	bucket  RateLimiter // its burst is one period's tokens
	// charged is what a Gate's calls in flight were charged and may yet
	// be refunded: predict counts it as refundable, so that a deadline is
	// refused only when even full refunds could not admit it in time.
	// A call whose estimate the API keeps whole (Cost.NoRefund) is not
	// counted: waiting for its refund, callers that could not make their
	// deadline waited it out (outside review, OpenAI's paths).
	// Take and Finish write it with the bucket's timeline, whose line it
	// shares.
	charged atomic.Int64
	_       [24]byte
}

// NewTokenBudget returns a budget of r tokens (for instance 40000/m) of the
// given kind. It panics if r is invalid.
func NewTokenBudget(r Rate, kind TokenKind) *TokenBudget {
	b := &TokenBudget{kind: kind}
	b.bucket.setRate(r, capacity(r))
	return b
}

// capacity is a bucket size of one period's tokens (as an int holds it:
// the timeline saturates long before).
func capacity(r Rate) int {
	return int(math.Min(math.Max(math.Ceil(r.N), 1), math.MaxInt/2))
}

// Kind returns which tokens the budget counts.
func (b *TokenBudget) Kind() TokenKind { return b.kind }

// Rate returns the budget's rate; the zero Rate means no limit.
func (b *TokenBudget) Rate() Rate {
	return b.bucket.Rate()
}

// AllowN reports whether an estimated n tokens may be spent now, and
// charges them if so.
func (b *TokenBudget) AllowN(n int) bool {
	if n <= 0 {
		return true
	}
	return b.bucket.AllowN(n)
}

// Reserve charges n estimated tokens now and returns a Reservation saying
// when they may be spent.
func (b *TokenBudget) Reserve(n int) *Reservation {
	if n <= 0 {
		return &Reservation{owner: b, n: n, start: noLimit}
	}
	return b.bucket.Reserve(n)
}

// Wait blocks until an estimated n tokens may be spent and charges them.
// When ctx is done first it returns ctx.Err() and refunds them. When ctx's
// deadline comes before the tokens could be spent, it returns
// ErrWouldExceedDeadline at once and charges nothing.
func (b *TokenBudget) Wait(ctx context.Context, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if n <= 0 {
		return nil
	}
	r, ok := b.bucket.reserve(n, untilDeadline(ctx))
	if !ok {
		return ErrWouldExceedDeadline
	}
	return r.wait(ctx)
}

// Settle corrects a charge of estimated tokens to the used tokens: a
// refund when fewer were used, an extra charge (possibly a debt) when more.
// Negative counts count as zero, and a debt stops at nine periods of the
// rate past an empty bucket (maxDebtPeriods): a usage beyond that is not
// believed.
func (b *TokenBudget) Settle(estimated, used int) { b.settle(estimated, used, time.Time{}) }

// settle is Settle at at, the zero Time for the clock now. A Gate passes
// the call's end (admission plus latency), after the API has counted the
// tokens: an overrun is dated then, which is when it happened.
func (b *TokenBudget) settle(estimated, used int, at time.Time) {
	estimated, used = max(estimated, 0), max(used, 0)
	if used == estimated {
		return
	}
	l := &b.bucket
	now := int64(-1)
	for {
		tat, p := l.load()
		if p == nil || p.interval == 0 {
			return
		}
		if now < 0 {
			now = l.at(at)
		}
		var newTat int64
		if used > estimated {
			newTat = l.advance(tat, now, mulSat(int64(used-estimated), p.interval))
			// Never trust an absurd usage (a gateway summing a whole
			// conversation, a hostile upstream): a settlement leaves the
			// timeline at most maxDebtPeriods ahead of now, so one bad
			// answer stops the budget for minutes, not years. A real
			// overrun of a limit the user set below the API's own (150k
			// tokens against 30k a minute: five minutes owed) is kept.
			if most := max(tat, now+mulSat(maxDebtPeriods, p.tau)); newTat > most {
				l.clips.Add(1)
				newTat = most
			}
		} else {
			// A refund shifts the timeline back, which keeps give-backs
			// exact (see RateLimiter.untake). Time before now is spent
			// anyway; the floor only keeps refunds from piling up past
			// what the timeline can hold, and loses a charge like a clip.
			newTat = tat - mulSat(int64(estimated-used), p.interval)
			if floor := now - maxSpan; newTat < floor {
				l.clips.Add(1)
				newTat = min(tat, floor)
			}
		}
		if l.tat.CompareAndSwap(tat, newTat) {
			break
		}
	}
	if used < estimated {
		b.signal()
	}
}

// maxDebtPeriods is how many periods of its rate a TokenBudget's timeline
// may run ahead of now after a settlement: an empty bucket is one, so
// nine periods of debt. No call's real usage is ten times a per-period
// limit an API enforces; a usage that says so is not believed.
const maxDebtPeriods = 10

// SetRate changes the budget's rate; the bucket holds one period of the
// new rate. Charges already made are re-timed as in RateLimiter.SetRate.
func (b *TokenBudget) SetRate(r Rate) {
	b.bucket.setRate(r, capacity(r))
	b.signal()
}

// signal closes the change channel, if anyone watches it. The check
// without the mutex is in a function of its own, small enough to inline:
// a refund nobody waits for costs one load.
func (b *TokenBudget) signal() {
	if b.watched.Load() {
		b.signalWatchers()
	}
}

func (b *TokenBudget) signalWatchers() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.change != nil {
		close(b.change)
		b.change = nil
		b.watched.Store(false)
	}
}

// Take implements Limit: it charges c's estimated tokens of the budget's
// kind.
func (b *TokenBudget) Take(c Cost, now time.Time, late time.Duration) (time.Duration, int64) {
	n := b.kind.of(c.InputTokens, c.OutputTokens)
	if n <= 0 {
		return 0, 0
	}
	// charged first: the addition fetches the line for writing, and the
	// take then finds it there. Read first, as the take does, a line
	// another core has just written comes twice, once to be read and
	// once to be written. A refused take gives the charge back; predict
	// reading it meanwhile counts more as refundable, which only lowers
	// its lower bound.
	if c.NoRefund {
		return b.bucket.takeN(n, now, late)
	}
	b.charged.Add(int64(n))
	wait, mark := b.bucket.takeN(n, now, late)
	if wait != 0 {
		b.charged.Add(-int64(n))
	}
	return wait, mark
}

// Untake implements Limit: it gives back what Take took.
func (b *TokenBudget) Untake(c Cost, mark int64) {
	if n := b.kind.of(c.InputTokens, c.OutputTokens); n > 0 {
		if !c.NoRefund {
			b.charged.Add(-int64(n))
		}
		b.bucket.Untake(Cost{Requests: n}, mark)
	}
}

// Finish implements Limit: it settles the estimate with o.Usage, as of
// admitted plus o.Latency (the clock, when either is zero).
func (b *TokenBudget) Finish(c Cost, admitted time.Time, o Outcome) {
	n := b.kind.of(c.InputTokens, c.OutputTokens)
	if n > 0 && !c.NoRefund {
		b.charged.Add(-int64(n))
	}
	if o.Usage != nil {
		used := c.settled(o, n, b.kind.of(o.Usage.InputTokens, o.Usage.OutputTokens))
		var end time.Time
		switch {
		case admitted.IsZero():
		case o.Latency > 0:
			end = admitted.Add(o.Latency)
		case used < n:
			// A refund needs the time only to bound how far the
			// timeline may go back; the admission bounds it too.
			end = admitted
		}
		b.settle(n, used, end)
	}
}

// Changed implements Limit: the channel is closed by a refund or SetRate.
func (b *TokenBudget) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.change == nil {
		b.change = make(chan struct{})
		b.watched.Store(true)
	}
	return b.change
}

// A TokenBudget's own reservations come from its bucket; these serve the
// no-limit case only.
func (b *TokenBudget) now() int64                         { return 0 }
func (b *TokenBudget) follow(*Reservation)                {}
func (b *TokenBudget) cancel(*Reservation)                {}
func (b *TokenBudget) watch(*Reservation) <-chan struct{} { return nil }

// String describes the budget, for logs.
func (b *TokenBudget) String() string { return fmt.Sprintf("%v %v", b.kind, b.Rate()) }
