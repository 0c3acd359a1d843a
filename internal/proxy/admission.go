package proxy

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
)

// A request waits for admission at most its route's MaxWait, and it is
// answered within its client's own deadline (deadline.go) when the client
// sent one. Once its response has begun it may take as long as the client
// lets it (a stream can last minutes). The Transport acquires the gate and
// sends the request with one context, so the request's context is a
// waitContext: until the request is admitted its deadline is the earlier
// of the max wait and the client's (which the gate reads to refuse at once
// a wait predicted longer); until the response has begun, the client's;
// then none but the client's connection. A timer cancels the request when
// the deadline in force passes. Admission is seen where it happens: when
// the Transport hands the request to its base (admittedBase); the response
// beginning, when the Transport hands it back (respondedTransport).

// errMaxWait is the cause of a wait cancelled at the route's max wait.
var errMaxWait = errors.New("proxy: waited the longest allowed for admission")

// errClientDeadline is the cause of a request cancelled at its client's
// deadline before its response began.
var errClientDeadline = errors.New("proxy: the client's deadline passed before the upstream answered")

// The states of an admission; it leaves queued once (but for expired,
// which becomes admitted when the gate had already let the request in:
// see admittedBase).
const (
	queued int32 = iota
	admitted
	expired
	gone // the request ended without being admitted
)

// The phases of a request against its client's deadline.
const (
	answering int32 = iota // the deadline, if any, holds
	responded              // the response has begun: the deadline no longer holds
	overdue                // the deadline passed first: the request was cancelled
)

// admission is one request's wait for its gate and for its answer.
type admission struct {
	state    atomic.Int32
	phase    atomic.Int32
	queue    *atomic.Int64 // the route's count of waiting requests
	timer    *time.Timer
	cancel   context.CancelCauseFunc
	client   context.Context // the request's context, before the proxy's cancel
	begin    time.Time
	limit    time.Time             // the max wait's end
	deadline time.Time             // the client's, zero when it gave none
	wait     atomic.Int64          // nanoseconds from begin to admission
	answered atomic.Int64          // when the upstream's last answer came, in Unix nanoseconds; 0 before
	late     atomic.Bool           // admitted by the gate as the max wait ran out
	info     *sluice.RoundTripInfo // what the Transport says of the round trip, once it returns
	body     *keptBody             // the request's body as the proxy kept it, for its refusals' words
	// gateKey is the key the Transport gave the request's gate (route.key
	// notes it, on the goroutine serving the request), "" before: a halt
	// for quota is kept by it (quotaprobe.go).
	gateKey string
	live    *liveSet // the route's, which a holds a place in until done
}

// leave moves a out of the queue into state to, and reports whether it
// was still queued.
func (a *admission) leave(to int32) bool {
	if !a.state.CompareAndSwap(queued, to) {
		return false
	}
	a.queue.Add(-1)
	return true
}

// expire is the timer's: at the max wait a queued request is cancelled;
// at the client's deadline one not yet answered is.
func (a *admission) expire() {
	now := time.Now()
	if !now.Before(a.limit) && a.leave(expired) {
		a.cancel(errMaxWait)
		return
	}
	if a.deadline.IsZero() {
		return
	}
	if now.Before(a.deadline) {
		a.timer.Reset(a.deadline.Sub(now))
		return
	}
	if a.phase.CompareAndSwap(answering, overdue) {
		// Unlike the max wait, this cancels an admitted request too:
		// its client is about to give up. One the gate let in at this
		// very moment has used its unit of rate for nothing.
		a.leave(gone)
		a.cancel(errClientDeadline)
	}
}

// passed returns what a's timer ends it with at now, or is ending it
// with (expire marks a before it cancels it): errMaxWait once the max
// wait has passed before its admission, errClientDeadline once the
// client's deadline has passed before its answer, nil before either.
func (a *admission) passed(now time.Time) error {
	switch state := a.state.Load(); {
	case !now.Before(a.limit) && (state == queued || state == expired):
		return errMaxWait
	case !a.deadline.IsZero() && !now.Before(a.deadline) && a.phase.Load() != responded:
		return errClientDeadline
	}
	return nil
}

type admissionKey struct{}

// admissionOf returns the admission of a request served by a route, nil
// for another.
func admissionOf(ctx context.Context) *admission {
	a, _ := ctx.Value(admissionKey{}).(*admission)
	return a
}

// waitContext is a request's context while it is served; see above. Its
// deadline changes at admission and when the response begins, against the
// letter of context.Context: only the gate and the base transport read it,
// and each wants the deadline of its own moment.
type waitContext struct {
	context.Context // ends with the client, at the max wait or at the client's deadline
	a               *admission
}

func (c *waitContext) Deadline() (time.Time, bool) {
	d, ok := c.a.client.Deadline()
	earlier := func(t time.Time) {
		if !t.IsZero() && (!ok || t.Before(d)) {
			d, ok = t, true
		}
	}
	if c.a.phase.Load() == answering {
		earlier(c.a.deadline)
	}
	if c.a.state.Load() == queued {
		earlier(c.a.limit)
	}
	return d, ok
}

// Done and Err are the client's alone for a request the gate admitted as
// its max wait ran out: the request is served (see admittedBase), so the
// max wait is no end of it (nor, then, the client's deadline).
func (c *waitContext) Done() <-chan struct{} {
	if c.a.late.Load() {
		return c.a.client.Done()
	}
	return c.Context.Done()
}

func (c *waitContext) Err() error {
	if c.a.late.Load() {
		return c.a.client.Err()
	}
	return c.Context.Err()
}

func (c *waitContext) Value(key any) any {
	if key == (admissionKey{}) {
		return c.a
	}
	return c.Context.Value(key)
}

// enqueue counts a request in its route's queue and returns its
// admission and context, or false when the queue is full. deadline is the
// client's, zero for none; waited, how long the request already waited
// for room for its body, which its max wait includes.
func (r *route) enqueue(parent context.Context, deadline time.Time, waited time.Duration) (*admission, context.Context, bool) {
	if r.queued.Add(1) > r.queueSize() {
		r.queued.Add(-1)
		return nil, nil, false
	}
	ctx, cancel := context.WithCancelCause(parent)
	now := time.Now()
	begin := now.Add(-waited) // the wait for room is the start of the wait for admission
	a := &admission{queue: &r.queued, cancel: cancel, client: parent, begin: begin, limit: begin.Add(r.maxWait()), deadline: deadline, live: &r.live}
	r.live.add(a)
	first := a.limit
	if !deadline.IsZero() && deadline.Before(first) {
		first = deadline
	}
	// Set before the timer can fire: expire reads a.timer.
	a.timer = time.AfterFunc(math.MaxInt64, a.expire)
	a.timer.Reset(first.Sub(now))
	return a, &waitContext{Context: ctx, a: a}, true
}

// done ends a's life: a request that is still queued leaves the queue.
func (a *admission) done() {
	a.leave(gone)
	a.timer.Stop()
	a.cancel(nil)
	a.live.remove(a)
}

// afterGrant, when set (by tests), runs when a request the gate admitted
// reaches the base, before its admission is seen: it widens the moment in
// which the max wait can run out after the gate said yes.
var afterGrant func()

// admittedBase is the Transport's base: a request reaching it has been
// admitted.
type admittedBase struct{ http.RoundTripper }

func (b admittedBase) RoundTrip(req *http.Request) (*http.Response, error) {
	a := admissionOf(req.Context())
	if a == nil {
		return b.RoundTripper.RoundTrip(req)
	}
	if afterGrant != nil {
		afterGrant()
	}
	switch {
	case a.leave(admitted):
		a.wait.Store(int64(time.Since(a.begin)))
	case a.state.CompareAndSwap(expired, admitted):
		// The gate let the request in as its max wait ran out, and the
		// timer cancelled it: the gate has taken its share, so the
		// request is served rather than refused, on a context that ends
		// with the client alone.
		a.wait.Store(int64(time.Since(a.begin)))
		a.late.Store(true)
		req = req.WithContext(clientContext{Context: a.client, values: req.Context()})
	}
	return holdForUpstream(b.RoundTripper, req, a)
}

// holdForUpstream sends req through base on a context that a client
// leaving does not end until the upstream has answered: the call keeps
// its slot while the upstream works on it. An LLM API generating a
// non-streamed answer counts the call in flight until it is done,
// whoever still waits; freed when the client's SDK timed out, the slot
// went to the next call, two in flight at an upstream limited to one
// (outside review). Once the answer has begun, a client gone ends it at
// once, as before: a stream is cut, and so the upstream stops.
//
// Only a client leaving is waited out (its context Canceled, as the
// server cancels it), and at most maxAbandonedHold: an upstream that
// never answers must not wedge the route (outside review: one black-holed
// call held a -c 1 route for the 300 s its upstream took). The attempt's
// timeout, a shutdown (which ends such holds at once: a of the admission
// notes them) and the client's declared deadline, until the answer
// begins, end the call as they did.
func holdForUpstream(base http.RoundTripper, req *http.Request, a *admission) (*http.Response, error) {
	parent := req.Context()
	// No deadline of its own: the client's ends parent only until the
	// response begins (admission.expire), and a copy of it here cut
	// every stream at the client's timeout (outside review: an SDK's 2 s
	// timeout ended a 6 s stream after 1.8 s).
	held, cancel := context.WithCancelCause(context.WithoutCancel(parent))
	var (
		answered atomic.Bool
		bound    atomic.Pointer[time.Timer]
	)
	stop := context.AfterFunc(parent, func() {
		if cause := context.Cause(parent); answered.Load() || cause != context.Canceled {
			cancel(cause)
			return
		}
		bound.Store(time.AfterFunc(maxAbandonedHold, func() { cancel(errAbandonedHold) }))
		if a != nil {
			a.live.abandoned(a, cancel)
		}
	})
	end := func() {
		stop()
		cancel(nil)
		if t := bound.Load(); t != nil {
			t.Stop()
		}
	}
	resp, err := base.RoundTrip(req.WithContext(held))
	answered.Store(true)
	if a != nil && resp != nil {
		a.answered.Store(time.Now().UnixNano())
	}
	if parent.Err() != nil {
		cancel(context.Cause(parent)) // the client left while the upstream worked: its answer ends here
	}
	if err != nil {
		end()
		return nil, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// The body is the connection, which the ReverseProxy writes to
		// as well: left as it is; the client's end ends the context.
		return resp, nil
	}
	resp.Body = &endsContext{ReadCloser: resp.Body, end: end}
	return resp, nil
}

// maxAbandonedHold bounds how long a call whose client left keeps its
// slot waiting for the upstream's answer. A variable for tests.
var maxAbandonedHold = time.Minute

// errAbandonedHold ends a held call at maxAbandonedHold.
var errAbandonedHold = errors.New("proxy: the client left, and the upstream did not answer within the hold")

// endsContext is a response body that ends its request's context when
// closed.
type endsContext struct {
	io.ReadCloser
	end func()
}

func (b *endsContext) Close() error {
	err := b.ReadCloser.Close()
	b.end()
	return err
}

// clientContext ends with the client's context, and has the values of
// the attempt's.
type clientContext struct {
	context.Context
	values context.Context
}

func (c clientContext) Value(key any) any { return c.values.Value(key) }

// CloseIdleConnections passes on to the base, for Transport's.
func (b admittedBase) CloseIdleConnections() {
	if c, ok := b.RoundTripper.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// respondedTransport is the ReverseProxy's Transport: it sees the
// response begin, after which the client's deadline no longer holds.
type respondedTransport struct {
	http.RoundTripper
	route *route
}

func (t respondedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.RoundTripper.RoundTrip(req)
	a := admissionOf(req.Context())
	if a != nil && resp != nil && a.info != nil && a.info.Class == sluice.ClassQuotaExhausted && resp.Header.Get("X-Should-Retry") == "" {
		// The upstream's own insufficient_quota, passed on: the gate
		// is halted now, so the SDKs' retries of it would only meet
		// the proxy's refusal (refuse.go).
		resp.Header.Set("X-Should-Retry", "false")
	}
	if a != nil && resp != nil && a.info != nil && (a.info.Class == sluice.ClassThrottled || a.info.Class == sluice.ClassOverloaded) &&
		resp.Header.Get("Retry-After") == "" && resp.Header.Get("Retry-After-Ms") == "" && t.route != nil {
		// An upstream that refuses without saying when to come back
		// (no Retry-After, no headers): the SDKs would retry at once,
		// into the same refusals, and give up (outside review: 166 of
		// 200 OpenAI SDK calls failed through the proxy, 105 without
		// it). The gate's cool-down, or the pace it learned from the
		// 429s, says when a call would be admitted again.
		wait := time.Second
		if g := t.route.tr.Gate(t.route.key(req)); g != nil {
			if until := time.Until(g.PausedUntil()); until > 0 {
				wait = until
			}
			if r := g.LearnedRate(); !r.IsZero() {
				wait = max(wait, time.Duration(t.route.queued.Load()+1)*r.Interval())
			}
		}
		resp.Header.Set("Retry-After", strconv.FormatInt(max(1, int64(math.Ceil(wait.Seconds()))), 10))
		resp.Header.Set("Retry-After-Ms", strconv.FormatInt(max(1, wait.Milliseconds()), 10))
	}
	if a != nil && resp != nil && a.info != nil && (a.info.Class == sluice.ClassThrottled || a.info.Class == sluice.ClassOverloaded) {
		ageRetryAfter(resp.Header, a.answered.Load(), time.Now())
	}
	if a != nil && resp != nil && a.info != nil && a.info.Attempts > 1 && a.info.Class.Retryable() && resp.Header.Get("X-Should-Retry") == "" {
		// The proxy retried it already, as far as its policy goes: the
		// SDKs' own retries (two by default, each waiting out the
		// proxy's whole round again) would only multiply the load on an
		// upstream that keeps failing.
		resp.Header.Set("X-Should-Retry", "false")
	}
	if resp == nil {
		// No response began: the deadline still says what ended the
		// request (marked responded, a request the gate refused at its
		// deadline was told the upstream may have acted on it).
		return resp, err
	}
	if a == nil || a.phase.CompareAndSwap(answering, responded) || a.phase.Load() == responded {
		if a != nil {
			// No attempt follows a response: its body's room is free.
			a.body.release()
		}
		return resp, err
	}
	// The deadline passed as the answer came: too late.
	resp.Body.Close()
	return nil, context.Cause(req.Context())
}

// ageRetryAfter takes from h's Retry-After and retry-after-ms the time
// since the upstream's answer came (answered, in nanoseconds since the
// Unix epoch; 0 for unknown), when that is a second or more: a 429 the
// proxy held while its retry waited (for the client's deadline, say) went
// back saying "10" 25 s after the upstream said it, and the SDK waited
// 10 s more for nothing (outside review).
func ageRetryAfter(h http.Header, answered int64, now time.Time) {
	if answered == 0 {
		return
	}
	age := now.Sub(time.Unix(0, answered))
	if age < time.Second {
		return
	}
	if v := h.Get("Retry-After"); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
			h.Set("Retry-After", strconv.FormatInt(max(secs-int64(age/time.Second), 0), 10))
		}
	}
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			h.Set("Retry-After-Ms", strconv.FormatInt(max(int64(ms)-age.Milliseconds(), 0), 10))
		}
	}
}
