package sluice

import (
	"context"
	"errors"
	"time"
)

// A Shared is the part of a Gate's limits kept outside this process, where
// every process and host that names the same key sees the same limits
// (package redis keeps them in Redis). Asking it costs a network round
// trip, so it is not a Limit: a Gate never calls it under its mutex.
//
// How a Gate uses it: the caller at the front of the gate's line first
// takes what it needs from the gate's own Limits (under the gate's mutex,
// in memory), then releases the mutex and calls Admit. While that call is
// out, nobody else in the gate calls Admit: the rest of the line waits
// behind, so however many callers wait, a process asks once per admission.
// When Admit refuses or fails, the gate gives back what its own Limits
// took (Limit.Untake) before the next caller may try. A Permit whose call
// was admitted by a Shared carries its Ticket, and Permit.Done finishes it.
//
// A Shared must be safe for concurrent use: Admit is called by one caller
// at a time per gate, but a Shared may serve several gates, and Finish,
// Pause and Changed are called at any time.
//
// A Shared may also have a method PausedUntil() time.Time: the end of the
// shared pause (Pause, by this process or another) as far as it knows
// without a round trip, the zero Time when none is known. Gate.PausedUntil
// and GateStats report the later of it and the gate's own pause. It is
// called outside the gate's locks, at any time, and must not block.
type Shared interface {
	// Admit takes c from every shared limit, all of them or none.
	//
	// Granted, it returns a Ticket and wait 0. A rate slot may be granted
	// a little ahead of its time; Admit then sleeps out that short delay
	// itself and, if ctx ends during it, gives the slot back (nothing
	// taken) and returns ctx.Err().
	//
	// Refused, it returns a nil Ticket and how long until c could be
	// admitted, rounded up, so that trying again then succeeds unless
	// others took it first; or WaitForChange when only a release can help
	// (a concurrency slot). The gate waits until that time or until
	// Changed is closed, whichever comes first, and asks again; a store
	// that cannot be sure to signal a release returns a time (a backstop)
	// rather than WaitForChange.
	//
	// Unable to answer (the store is unreachable or slower than its
	// per-call timeout, which bounds every call), a Shared never hangs
	// and is never silent: depending on its configured mode it answers
	// from limits in this process, admits, or returns an error (one
	// matching ErrSharedUnavailable when it refuses for that reason); it
	// says so in its own log and statistics. A cost no shared limit could
	// ever admit is an error at once, a *TooLargeError matching
	// ErrTooLarge. On any error the gate gives back what its own limits
	// took and returns the error to the caller.
	Admit(ctx context.Context, c Cost) (t Ticket, wait time.Duration, err error)
	// Changed returns a channel closed when a shared slot may have been
	// released (by this or another process); it may be nil when the
	// Shared never returns WaitForChange.
	Changed() <-chan struct{}
	// Pause shares a gate-wide pause until t (the API said it is
	// throttling) with every process; Admit then refuses until t. It is
	// called outside the gate's mutex and must not block on the network
	// for longer than the store's per-call timeout.
	Pause(until time.Time)
	// Learn shares the limits the gate learned from the API's headers
	// (Limits.Rate and the token rates; a zero rate is one not learned),
	// which already carry the network's margin. Every process's responses
	// describe the API's one quota, so the learned pace must be kept
	// together, not by each process at the whole of it. It is called
	// outside the gate's locks, when what was learned changes, and must
	// not block on the network for longer than the store's per-call
	// timeout.
	Learn(l Limits)
}

// A Shared may also keep a request pace learned from 429s alone
// (learn_throttle.go) apart from paces learned from headers: a
// sharedPaceOf429 (package redis's is). Its learner, dead or restarted,
// no longer climbs it back, and a pace any process may follow must be
// one every process can climb back: each follows it as its own
// (Gate.followShared), and the pace shows in its LearnedRate.
type sharedPaceOf429 interface {
	// Learn429 is Learn, l.Rate being learned from 429s alone; was is
	// the pace the gate last knew the shared limits to hold (the zero
	// Rate: none). A rate faster than the one they hold, when that is no
	// longer was, is a climb from a pace since cut by another process:
	// the cut stands, and the gate follows it at its next admission.
	Learn429(l Limits, was Rate)
	// PaceOf429 returns the request pace learned from 429s that the
	// shared limits held at their last answer, the zero Rate when none.
	// It is called after every admission and must not block.
	PaceOf429() Rate
}

// A Ticket may also have a method Unshared() bool, true when its call
// was admitted by limits of this process alone, in place of the shared
// ones or beside them: package redis's fallback while Redis does not
// answer, and the grace after it, when the processes come back one by
// one, and a period more, while the calls admitted meanwhile may still
// share an API window with it. A 429 of such a call says the hand-over
// between limits bunched calls, not that the API is slower than the
// shared limits: it pauses the gate and teaches no pace (Permit.Done).
type unsharedTicket interface {
	Unshared() bool
}

// unshared reports whether t's call was admitted by limits of this
// process alone (unsharedTicket); false for none.
func (t *sharedTicket) unshared() bool {
	if t == nil {
		return false
	}
	u, ok := t.ticket.(unsharedTicket)
	return ok && u.Unshared()
}

// sharedPause is a Shared that knows the pause other processes shared
// (see Shared).
type sharedPause interface {
	PausedUntil() time.Time
}

// ErrSharedUnavailable matches the error of a Shared that refuses a call
// because its store cannot be reached and it was told to refuse then
// (package redis's Closed mode). Nothing was sent and nothing is wrong
// with the call: ClassOf and Classify say ClassSharedUnavailable, which
// is never retried; faces stop starting calls on it (a batch stops early
// rather than failing every item, a server answers 503, an agent's items
// fail at once, not sent). A Shared's own error need only match it.
var ErrSharedUnavailable = errors.New("sluice: shared limits unavailable")

// A Ticket is one call admitted by a Shared: what the store must undo or
// settle when the call ends. A Ticket of a Shared holding a sliding
// window may also be a SentTicket.
type Ticket interface {
	// Finish ends the call with outcome o: it releases the call's
	// concurrency leases and settles its token estimate with o.Usage. It
	// runs whatever became of the caller's context, is idempotent, and
	// blocks at most the store's per-call timeout.
	Finish(o Outcome)
}

// A SentTicket is a Ticket that counts its call in a shared window from
// when the request has left, not from its admission, as a SlidingWindow
// in memory does (transport_sent.go): a new connection's dial and TLS
// handshake come between the two, and a window counting from admission
// let the next window's calls, sent at once on warm connections, reach
// the API inside the first window's.
//
// A Transport marks the Cost of its calls through a gate whose limits
// hold a window (Cost.Unsent; a gate of Limits.Store with a Window). The
// Shared takes such a call pending: it counts in every window until Sent,
// and from then on at the time of Sent. Sent is called at most once, when
// the request has been written (for a Base that reports no write, when
// its response begins), never after Finish has begun; a call never sent
// is dated at Finish, the latest it can have left. Sent may run
// concurrently with Finish, on net/http's own goroutine, so it must not
// block: network work goes in the background.
type SentTicket interface {
	Ticket
	// Sent says the call's request has left now.
	Sent()
}

// Unsent reports whether the call is admitted for a Transport that says
// when its request has left (Permit.Done at the latest): limits that
// count a call from then take it pending (see SentTicket). Only a
// Transport marks a Cost so.
func (c Cost) Unsent() bool { return c.unsent }

// DateSent tells limits that a call of cost c they took (Limit.Take) has
// left now: a SlidingWindow counts it from now on rather than in every
// window (see SentTicket). It does nothing for a Cost not marked Unsent
// and for limits that do not date sends. It is for a SentTicket that
// admitted its call from Limits of its own, in memory (package redis
// falls back to them while Redis is down): its Sent calls it, or its
// Finish when Sent never came. Each call taken must be dated once.
func DateSent(c Cost, limits ...Limit) {
	if !c.unsent {
		return
	}
	for _, l := range limits {
		if d, ok := l.(sentDater); ok {
			d.sent(c)
		}
	}
}

// sent tells the ticket, when it dates sends, that the call has left.
func (t *sharedTicket) sent() {
	if st, ok := t.ticket.(SentTicket); ok {
		st.Sent()
	}
}

// A Store makes the Shared limits of gates. Set Limits.Store to share
// limits through it; package redis provides one.
type Store interface {
	// Share returns the shared part of l for the gate with the given key
	// (the Transport's key: a host, a model, an API key; "" for a lone
	// gate). Gates of the same store and key, in any process, share one
	// set of limits. l's rates already carry the margin for the network
	// that Limits.NewGate applies (6ms a period), and a positive
	// l.Concurrency is the most calls in flight across all processes; a
	// store decides what 0 means (package redis shares none then, each
	// process keeping DefaultConcurrency of its own). It is called once
	// per gate and must not block.
	//
	// A Shared may also implement io.Closer. A Transport closes the
	// Shared of each gate it forgets (idle, nothing held: see
	// Transport.Gate), once per Share, so that the store can let go of
	// what it keeps for the key; a gate made again for the key later
	// calls Share again. Close is called under the Transport's lock and
	// must not block: network work goes in the background.
	//
	// When l has a Window, the gate's Transport marks its calls Unsent
	// and tells their Tickets when the requests leave (SentTicket).
	Share(key string, l Limits) Shared
}

// NewSharedGate returns a Gate enforcing its own limits, in this
// process, and s's shared limits: a call is admitted when all of them
// admit it. Limits.NewGate uses it when Limits.Store is set.
func NewSharedGate(s Shared, limits ...Limit) *Gate {
	g := NewGate(limits...)
	g.shared = s
	return g
}
