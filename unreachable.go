package sluice

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// A call whose host cannot be reached (the connection refused: nothing
// listens there; or no such host) is transient to Classify, and retrying
// it with the usual backoff kept a caller waiting some 35 s for an answer
// known after the first attempt: the host is down, or the URL is wrong.
// So RetryPolicy treats it apart, by what it knows of the host:
//
//   - a host that has not answered yet gets one quick retry (a listen
//     backlog full for a moment, a server a moment from listening), then
//     the call fails with an *UnreachableError naming the address;
//   - a host that has answered before was up and may be restarting: it
//     gets a few quick retries, about 1.5 s in all, before the same error.
//     Once one call gives it up, the host counts as not heard from again
//     (until it answers), so that the calls after it, and those already
//     retrying, fail as quickly as for a host that never answered: a
//     batch whose host died mid-run fails its remaining items in a
//     moment instead of crawling through minutes of retries.
//
// These quick retries do not wait for the retry budget: nothing reached
// the host, so they cannot be the storm the budget keeps from an API, and
// there are at most a few of them in a row.
//
// The error wraps the dial error, so nothing of the cause is hidden
// (errors.Is(err, syscall.ECONNREFUSED) still holds), and the call's class
// becomes ClassFatal: retrying at once cannot help, and a batch whose first
// calls all meet a dead host stops rather than fail every item. Nothing
// reached the host, so nothing of its limits was used: the Transport
// refunds the tokens such a call was charged.

// ErrUnreachable is matched (errors.Is) by the error of a call given up
// because its host could not be reached (an *UnreachableError).
var ErrUnreachable = errors.New("sluice: host unreachable")

// UnreachableError is the error of a call given up because its host
// refused the connection, or does not exist, on its last attempts. It
// names the address and wraps the last attempt's error.
type UnreachableError struct {
	// Addr is the address dialled (host:port), or the host name that
	// does not resolve; the request's host when the error names neither.
	Addr string
	// Attempts counts the attempts in a row that could not connect.
	Attempts int
	// Answered reports that the host had answered earlier calls (through
	// the same Transport gate, or earlier attempts of the same call): it
	// was up and went down, or is restarting slower than the retries.
	Answered bool
	// Err is the last attempt's error.
	Err error
}

func (e *UnreachableError) Error() string {
	why := "it has not answered yet"
	if e.Answered {
		why = "it answered before"
	}
	return fmt.Sprintf("sluice: %s unreachable after %d attempts (%s): %v", e.Addr, e.Attempts, why, e.Err)
}

// Unwrap returns the last attempt's error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Is makes the error match ErrUnreachable.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// How many attempts in a row may fail to connect before the call is given
// up, and how quickly they follow each other: refusedBase, doubling, with
// jitter (never more than Backoff.Base, when smaller).
const (
	unreachableAttemptsNew   = 2 // one quick retry for a host not heard from yet
	unreachableAttemptsKnown = 5 // four, within 1.5 s, for one that answered before
	refusedBase              = 100 * time.Millisecond
)

// unreachableAttempts is how many attempts in a row that cannot connect
// end a call, by whether the host has answered before.
func unreachableAttempts(known bool) int {
	if known {
		return unreachableAttemptsKnown
	}
	return unreachableAttemptsNew
}

// host is what a RetryPolicy knows of the host a call goes to.
type host struct {
	addr string // named in the error when the dial error does not say it
	// answered is set once any call to the host got an answer; nil
	// leaves only the call's own attempts to say so.
	answered *atomic.Bool
}

// heard records that an attempt got an answer from the host.
func (h host) heard() {
	if h.answered != nil && !h.answered.Load() { // a load, not a store, on every call's path
		h.answered.Store(true)
	}
}

// down records that a call gave the host up: until it answers again, it
// counts as never heard from.
func (h host) down() {
	if h.answered != nil && h.answered.Load() {
		h.answered.Store(false)
	}
}

// known reports whether the host answered before.
func (h host) known() bool { return h.answered != nil && h.answered.Load() }

// answered reports whether an attempt that ended with err heard from the
// host: a response, successful or not.
func answered(err error) bool {
	var se *StatusError
	return err == nil || errors.As(err, &se)
}

// unreachableDelay is the wait before the n-th retry (n ≥ 1) in a row of
// a call whose host could not be reached: between half and all of
// refusedBase·2^(n-1).
func (p RetryPolicy) unreachableDelay(n int) time.Duration {
	base := refusedBase
	if p.Backoff.Base > 0 && p.Backoff.Base < base {
		base = p.Backoff.Base
	}
	d := base << min(max(n-1, 0), 8)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// giveUpUnreachable returns the error of a call given up after refused
// attempts in a row that could not connect, the last ending with err.
func (h host) giveUpUnreachable(err error, refused int, answeredHere bool) error {
	known := h.known()
	h.down()
	return &UnreachableError{Addr: unreachableAddr(err, h.addr), Attempts: refused, Answered: answeredHere || known, Err: err}
}
