package sluice

import (
	"context"
	"time"
)

// A Limit is one constraint a Gate enforces, kept in this process.
// Semaphore, AdaptiveLimit, RateLimiter, SlidingWindow and TokenBudget are
// Limits; a Gate admits a call only when every one of its Limits admits
// it, all at once. A type outside this package may be a Limit too, by
// keeping this contract.
//
// Locking: a Gate calls Take, Untake and Predict while it holds its own
// mutex, or, with nobody in its line, Take and Untake from several callers
// at once without it; so they must answer at once from memory, never
// block, never do I/O, and never call back into a Gate. A limit may belong
// to several gates at once, so every method must be safe for concurrent
// use and guard its own state. Finish and Changed are called without the
// gate's mutex.
// A limit that needs a network round trip to answer is not a Limit: it is
// a Shared (shared.go), which the gate calls outside its mutex.
type Limit interface {
	// Take takes what c asks of this limit if it is available at now, and
	// returns wait 0 and a mark that Untake needs. Otherwise it takes
	// nothing and returns how long to wait before trying again, or
	// WaitForChange when only a change signalled on Changed() can help (a
	// concurrency slot being released).
	//
	// now is the time of the admission, read once by the caller for all
	// of a gate's limits (a clock read costs more than a take on some
	// hosts): a limit should use it rather than read the clock again. It
	// lags the real time by what it took to ask the limits before this
	// one (a Gate reads it under its mutex right before asking), and a
	// pacer dates the start at now, as x/time/rate does with the time it
	// is given. A limit that must record starts in real time order across
	// gates (a SlidingWindow) may read its own clock instead. The zero
	// Time means "read the clock".
	//
	// late is how long after the time it was told to come back the caller
	// is trying again: a timer's wake-up lags by up to a millisecond or
	// so. A pacer (RateLimiter, TokenBudget) charges as of that earlier
	// time, as a reservation would have, so that the lag does not add up
	// call after call and slow the pace; a SlidingWindow records the real
	// start, since it promises counts at real start times. Either way the
	// wait returned is counted from now.
	Take(c Cost, now time.Time, late time.Duration) (wait time.Duration, mark int64)
	// Untake gives back exactly what a successful Take returning mark
	// took, for a call that never started (another limit of the same
	// gate, or the gate's Shared limits, refused it). After it the limit
	// admits what it would have admitted had the Take never happened.
	Untake(c Cost, mark int64)
	// Finish is told that a call admitted at admitted with c has ended
	// with o: a concurrency limit releases it, a token budget settles it.
	// When o.Latency is set, admitted plus o.Latency is the time it ended,
	// so a limit need not read the clock. Permit.Done measures a latency
	// its caller left zero for every Limit but this package's Semaphore,
	// RateLimiter, SlidingWindow and TokenBudget, which do without.
	Finish(c Cost, admitted time.Time, o Outcome)
	// Changed returns a channel closed the next time this limit may admit
	// sooner than it last said (a release, a refund, a new rate). A limit
	// that never returns WaitForChange may return nil.
	Changed() <-chan struct{}
	// Predict returns a lower bound on how long own would wait behind
	// ahead if nothing else changed; 0 when the limit cannot tell (see
	// predict.go).
	Predict(ahead, own Cost) time.Duration
	// Rested reports whether the limit holds nothing a new one would not
	// (see forget.go): a gate whose limits are all rested may be
	// forgotten.
	Rested() bool
	// Info describes the limit to the gate (ordering, statistics,
	// memory, the most one call may ask). It is cheap and may be called
	// under the gate's mutex.
	Info() LimitInfo
}

// LimitInfo is what a Gate needs to know about a Limit besides admitting.
type LimitInfo struct {
	// Holds reports that the limit holds units until Finish (calls in
	// flight) and so refuses with WaitForChange rather than with a time.
	// A gate asks such limits last: a slot is taken only once every
	// time-paced limit has said yes.
	Holds bool
	// Ceiling is, for a limit that Holds, how many units may be held now
	// (0 for no limit). GateStats.Ceiling reports it.
	Ceiling int
	// Period is how long the limit remembers a start (a rate's period);
	// a gate is kept at least that long after its last use.
	Period time.Duration
	// Capacity is the most one call may ask of the limit at its current
	// setting; a Gate refuses a call asking more with ErrTooLarge
	// (toolarge.go). The zero Capacity bounds nothing.
	Capacity Capacity
}

// WaitForChange is what Limit.Take (and Shared.Admit) returns when waiting
// a time will not help and only a change signalled on Changed will.
const WaitForChange time.Duration = -1

// waitForChange is WaitForChange, by its older name inside the package.
const waitForChange = WaitForChange

// maxLate is the most timer lag a time-paced limit forgives: lag up to it
// costs no throughput (a lag beyond it is not forgiven, which only slows
// the pace). A burst-1 RateLimiter forgives it without compressing any
// window (its ring, ratering.go); a TokenBudget or a bursty rate may
// start a window's units up to maxLate sooner, a third of apiSafe's
// margin.
const maxLate = 2 * time.Millisecond

// Cost is what one call asks of a Gate's limits.
type Cost struct {
	// Requests is the weight of the call for Semaphores, RateLimiters and
	// SlidingWindows. Zero means 1.
	Requests int
	// InputTokens and OutputTokens are the estimated tokens, charged to
	// TokenBudgets at admission and settled with the Outcome's Usage.
	// OutputTokens is usually the request's max_tokens.
	InputTokens, OutputTokens int
	// NoRefund says the API counts the estimate against its limits
	// whatever the call used: OpenAI charges a request its max_tokens and
	// its prompt as it arrives, and does not give back what the answer
	// did not use. A successful call is then settled only upward (more
	// used than estimated is charged); refunding the rest let the next
	// calls spend tokens the API still counted, and about half drew
	// 429s. A call that never reached the API is refunded whole anyway.
	// Estimate sets it for OpenAI's request shapes.
	NoRefund bool

	// unsent says a Transport admits the call and tells its Permit when
	// the request has left (Permit.sent): a SlidingWindow counts the call
	// from then, not from its admission (see transport_sent.go).
	unsent bool
}

// settled returns the tokens a call of cost c that ended as o is settled
// at, used being what o.Usage reports of a budget's kind and estimated
// what c estimated of it.
func (c Cost) settled(o Outcome, estimated, used int) int {
	if c.NoRefund && o.Class == ClassOK && used < estimated {
		return estimated
	}
	return used
}

// requests returns the weight of c for request-counting limits.
func (c Cost) requests() int {
	if c.Requests <= 0 {
		return 1
	}
	return c.Requests
}

// Usage is the number of tokens a call really used, as the API reported it.
type Usage struct {
	InputTokens, OutputTokens int
}

// Outcome is how an admitted call ended. It is passed to Permit.Done.
type Outcome struct {
	// Latency is how long the call took; zero means "measure it from
	// admission".
	Latency time.Duration
	// Class is what the result means (Classify); the zero Class is ClassOK.
	// ClassCanceled calls say nothing about the API's health and are not
	// samples for adaptation.
	Class Class
	// Timeout reports that the call timed out, a sign of overload.
	Timeout bool
	// ConcurrencyLimited reports a 429 refusing the call because too many
	// calls were in flight ("Number of concurrent connections has exceeded
	// your rate limit"), as opposed to too many per period.
	ConcurrencyLimited bool
	// Usage is the real token usage; when nil, token budgets keep the
	// estimate they charged.
	Usage *Usage
	// RateLimit is what the response's headers said about the API's limits
	// (ParseRateLimitHeaders). When set, the gate learns from it: it paces
	// to the API's limits and pauses as the API asks.
	RateLimit *RateLimitInfo

	// headed is set by Permit.Done when the call's healthy headers
	// already grew an adaptive ceiling in slow start (Permit.responded).
	headed bool
	// unmeasured is set by the Transport for a healthy response whose
	// latency no limit reads (Permit.latencyUnread), the clock not read
	// for it: Latency is 0, and Permit.Done must not measure it.
	unmeasured bool
	// retriedBelow is set by a Pool when its item's call went through a
	// Transport that ran its own retries: the Pool's policy retries it
	// no more (runTo).
	retriedBelow bool
}

// priorityKey is the context key under which WithPriority stores a priority.
type priorityKey struct{}

// WithPriority returns a context that carries priority p. Semaphore and
// Gate serve waiters with a higher priority first, and waiters of one
// priority in the order they arrived. The default priority is 0; negative
// priorities are allowed.
func WithPriority(ctx context.Context, p int) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityFrom returns the priority ctx carries, or 0.
func PriorityFrom(ctx context.Context) int {
	p, _ := ctx.Value(priorityKey{}).(int)
	return p
}
