package sluice

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// A call can ask more of a limit than the limit could ever admit: a
// request estimated at 20,000 tokens through a budget of 10,000 a
// minute, a weight of 5 through a window of 3. Left to the limits, such
// a call either never starts or starts into a debt that holds every later
// call back for as long as it overdrew (max_tokens 1e20 made it hours).
// A Gate refuses it at once instead, taking nothing, so that every face
// (a Pool, the Transport, the proxy, the batch runner, a Shared store)
// gives the same answer: the call is wrong, not late.

// ErrTooLarge is matched (errors.Is) by the error of a call whose cost
// one of its gate's limits could never admit: Gate.Acquire returns a
// *TooLargeError at once and takes nothing. Retrying cannot help: ClassOf
// says ClassFatal.
var ErrTooLarge = errors.New("sluice: cost exceeds a limit's capacity")

// Capacity is the most of one unit a single call may ask of a limit:
// a token budget's tokens per period, a window's count, a rate's count
// per period (or its burst, if larger). The zero Capacity bounds nothing.
// Limits report theirs in LimitInfo.Capacity; a limit that admits any
// cost eventually, as a Semaphore runs a weight above its limit alone,
// reports none.
type Capacity struct {
	// Max is the most one call may ask; 0 means no bound.
	Max int64
	// Tokens reports that the units are tokens of Kind, as a Cost
	// estimates them; otherwise they are requests (Cost.Requests, at
	// least 1).
	Tokens bool
	Kind   TokenKind
}

// Asked returns what c asks in the capacity's units.
func (k Capacity) Asked(c Cost) int64 {
	if k.Tokens {
		return int64(k.Kind.of(c.InputTokens, c.OutputTokens))
	}
	return int64(c.requests())
}

// Units names the capacity's units: "requests", "tokens", "input
// tokens" or "output tokens".
func (k Capacity) Units() string {
	if k.Tokens {
		return k.Kind.String()
	}
	return "requests"
}

// TooLargeError is a call refused because its cost exceeds a limit's
// Capacity. It matches ErrTooLarge, and unwraps to Err.
type TooLargeError struct {
	// Limit names the limit that could never admit the call: "token
	// budget", "sliding window", "request rate", or what a Shared or a
	// limit of another package calls it.
	Limit string
	// Rate is the limit's rate when the call asked (the zero Rate for a
	// limit without one), as the limit keeps it: a Gate made from Limits
	// widens periods by a margin for the network (Limits.NewGate).
	Rate Rate
	// Capacity is the limit's capacity when the call asked.
	Capacity Capacity
	// Cost is what the call asked.
	Cost Cost
	// Err is the store's own error when a Shared refused the call
	// (package redis's ErrTooLarge); nil for a limit in this process.
	Err error
}

func (e *TooLargeError) Error() string {
	limit := e.Limit
	if !e.Rate.IsZero() {
		limit += " of " + shownRate(e.Rate).String()
	}
	return fmt.Sprintf("sluice: this call asks %d %s, more than the %s could ever admit (%d at most)",
		e.Capacity.Asked(e.Cost), e.Capacity.Units(), limit, e.Capacity.Max)
}

// shownRate is r as its user wrote it, near enough: the network's margin
// (at most 1% and some milliseconds) rounded off its period, so that a
// budget of 10000/m reads so rather than 10000/1m0.01s.
func shownRate(r Rate) Rate {
	if p := r.Per.Round(100 * time.Millisecond); p > 0 && p < r.Per && r.Per-p <= r.Per/50+20*time.Millisecond {
		r.Per = p
	}
	return r
}

// Is makes a TooLargeError match ErrTooLarge.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Unwrap returns the store's own error, if any.
func (e *TooLargeError) Unwrap() error { return e.Err }

// CheckCost returns the *TooLargeError that Acquire would return at once
// for c, or nil when each of the gate's own limits could admit c some
// day. It takes nothing and never waits, so that a call that could never
// be admitted can be refused before it is queued or planned (sluice run
// --dry-run reports such items). The limits of a Shared store are judged
// by the store when a call asks it. Safe for concurrent use; a few
// nanoseconds for a cost of one request and no tokens.
func (g *Gate) CheckCost(c Cost) error { return g.tooLarge(c) }

// tooLarge returns a *TooLargeError when c exceeds the capacity, now, of
// one of the gate's own limits, else nil. Every capacity is at least 1,
// so the common cost (one request, no tokens) returns at once, with no
// limit asked.
//
// The limits the gate learned from headers are not asked: a learned
// pace spreads what remains of a quota until its reset (500 tokens for
// 20 seconds), which says nothing of what the API admits per call once
// the quota is back.
func (g *Gate) tooLarge(c Cost) error {
	if c.Requests <= 1 && c.InputTokens <= 0 && c.OutputTokens <= 0 {
		return nil
	}
	return g.overCapacity(c)
}

// overCapacity is tooLarge's look at each limit, out of line so that
// tooLarge's early return inlines into Acquire.
func (g *Gate) overCapacity(c Cost) error {
	if g.skip > len(g.limits) {
		return nil
	}
	for _, l := range g.limits[g.skip:] {
		var k Capacity
		// This package's limits are asked directly (a few nanoseconds,
		// where Info cost tens: every token-costed admission pays it);
		// any other limit through its Info.
		switch l := l.(type) {
		case *Semaphore, *AdaptiveLimit:
			continue // no capacity: a weight above the limit runs alone
		case *TokenBudget:
			k = l.capacity()
		case *RateLimiter:
			if c.Requests <= 1 {
				continue // every capacity is at least 1
			}
			k = l.capacity()
		case *SlidingWindow:
			if c.Requests <= 1 {
				continue
			}
			k = l.capacity()
		default:
			k = l.Info().Capacity
		}
		if k.Max > 0 && k.Asked(c) > k.Max {
			name, rate := describeLimit(l)
			return &TooLargeError{Limit: name, Rate: rate, Capacity: k, Cost: c}
		}
	}
	return nil
}

// describeLimit names l, and its rate, for an error.
func describeLimit(l Limit) (string, Rate) {
	switch l := l.(type) {
	case *TokenBudget:
		return strings.TrimSuffix(l.Kind().String(), "s") + " budget", l.Rate()
	case *SlidingWindow:
		return "sliding window", l.Rate()
	case *RateLimiter:
		return "request rate", l.Rate()
	case fmt.Stringer:
		return "limit " + l.String(), Rate{}
	}
	return fmt.Sprintf("limit %T", l), Rate{}
}
