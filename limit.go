package sluice

import (
	"context"
	"time"
)

// A Limit is one constraint a Gate enforces. Semaphore, RateLimiter,
// SlidingWindow and TokenBudget are Limits; a Gate admits a call only when
// every one of its Limits admits it.
//
// The methods are unexported for now: a Gate relies on their exact
// contracts (all-or-nothing taking, wake-ups on change), so only the limits
// in this package implement it.
type Limit interface {
	// take takes what c asks of this limit if it is available now, and
	// returns wait 0 and a mark that untake needs. Otherwise it takes
	// nothing and returns how long to wait before trying again, or
	// waitForChange when only a change signalled on changed() can help (a
	// concurrency slot being released).
	//
	// late is how long after the time it was told to come back the caller
	// is trying again: a timer's wake-up lags by up to a millisecond or
	// so. A pacer (RateLimiter, TokenBudget) charges as of that earlier
	// time, as a reservation would have, so that the lag does not add up
	// call after call and slow the pace; a SlidingWindow records the real
	// start, since it promises counts at real start times. Either way the
	// wait returned is counted from the real now.
	take(c Cost, late time.Duration) (wait time.Duration, mark int64)
	// untake gives back what a successful take took, for a call that
	// never started (another limit of the same gate refused it).
	untake(c Cost, mark int64)
	// done is told that a call admitted at admitted with c has finished
	// with o.
	done(c Cost, admitted time.Time, o Outcome)
	// changed returns a channel closed the next time this limit may admit
	// sooner than it last said (a release, a refund, a new rate).
	changed() <-chan struct{}
	// predict returns a lower bound on how long own would wait behind
	// ahead if nothing else changed; 0 when the limit cannot tell (see
	// predict.go).
	predict(ahead, own Cost) time.Duration
	// rested reports whether the limit holds nothing a new one would not
	// (see forget.go).
	rested() bool
}

// waitForChange is what take returns when waiting a time will not help.
const waitForChange time.Duration = -1

// maxLate is the most timer lag a time-paced limit forgives; it stays well
// inside the margin apiSafe leaves for the network.
const maxLate = 5 * time.Millisecond

// Cost is what one call asks of a Gate's limits.
type Cost struct {
	// Requests is the weight of the call for Semaphores, RateLimiters and
	// SlidingWindows. Zero means 1.
	Requests int
	// InputTokens and OutputTokens are the estimated tokens, charged to
	// TokenBudgets at admission and settled with the Outcome's Usage.
	// OutputTokens is usually the request's max_tokens.
	InputTokens, OutputTokens int
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
