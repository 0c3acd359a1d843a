package proxy

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"
)

// A request waits for admission at most its route's MaxWait, but once
// admitted it may take as long as the client lets it (a stream can last
// minutes). The Transport acquires the gate and sends the request with
// one context, so the request's context is a waitContext: until the
// request is admitted its deadline is the max wait (which the gate reads
// to refuse at once a wait predicted longer), and a timer cancels the wait
// when it runs out; from admission on, both are the client's alone.
// Admission is seen where it happens: when the Transport hands the
// request to its base (admittedBase).

// errMaxWait is the cause of a wait cancelled at the route's max wait.
var errMaxWait = errors.New("proxy: waited the longest allowed for admission")

// The states of an admission; it leaves queued once.
const (
	queued int32 = iota
	admitted
	expired
	gone // the request ended without being admitted
)

// admission is one request's wait for its gate.
type admission struct {
	state  atomic.Int32
	queue  *atomic.Int64 // the route's count of waiting requests
	timer  *time.Timer
	cancel context.CancelCauseFunc
	begin  time.Time
	wait   atomic.Int64 // nanoseconds from begin to admission
}

// leave moves a out of the queue into state to, and reports whether it
// was still queued.
func (a *admission) leave(to int32) bool {
	if !a.state.CompareAndSwap(queued, to) {
		return false
	}
	a.queue.Add(-1)
	if to != expired { // the timer's own call: a.timer may not be set yet

		a.timer.Stop()
	}
	return true
}

type admissionKey struct{}

// waitContext is a request's context while it waits for admission; see
// above. Its deadline changes once, at admission, against the letter of
// context.Context: only the gate and the base transport read it, and each
// wants the deadline of its own moment.
type waitContext struct {
	context.Context // ends with the client, or at the max wait
	a               *admission
	limit           time.Time
}

func (c *waitContext) Deadline() (time.Time, bool) {
	d, ok := c.Context.Deadline()
	if c.a.state.Load() != queued || (ok && d.Before(c.limit)) {
		return d, ok
	}
	return c.limit, true
}

func (c *waitContext) Value(key any) any {
	if key == (admissionKey{}) {
		return c.a
	}
	return c.Context.Value(key)
}

// enqueue counts a request in its route's queue and returns its
// admission and context, or false when the queue is full.
func (r *route) enqueue(parent context.Context) (*admission, context.Context, bool) {
	if r.queued.Add(1) > r.queueSize() {
		r.queued.Add(-1)
		return nil, nil, false
	}
	ctx, cancel := context.WithCancelCause(parent)
	a := &admission{queue: &r.queued, cancel: cancel, begin: time.Now()}
	max := r.maxWait()
	a.timer = time.AfterFunc(max, func() {
		if a.leave(expired) {
			cancel(errMaxWait)
		}
	})
	return a, &waitContext{Context: ctx, a: a, limit: a.begin.Add(max)}, true
}

// done ends a's life: a request that is still queued leaves the queue.
func (a *admission) done() {
	a.leave(gone)
	a.cancel(nil)
}

// admittedBase is the Transport's base: a request reaching it has been
// admitted.
type admittedBase struct{ http.RoundTripper }

func (b admittedBase) RoundTrip(req *http.Request) (*http.Response, error) {
	if a, ok := req.Context().Value(admissionKey{}).(*admission); ok && a.leave(admitted) {
		a.wait.Store(int64(time.Since(a.begin)))
	}
	return b.RoundTripper.RoundTrip(req)
}

// CloseIdleConnections passes on to the base, for Transport's.
func (b admittedBase) CloseIdleConnections() {
	if c, ok := b.RoundTripper.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
