package sluice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Transport is an http.RoundTripper that sends every request through a
// Gate: it waits for the limits, classifies the response, learns the API's
// limits from its headers (or a pace from its 429s, when it sends none),
// pauses the gate when the API throttles, and
// retries what is worth retrying, each retry going back through the gate.
// Any HTTP client gets all of it by setting http.Client.Transport,
// including the Anthropic and OpenAI Go SDKs, which accept a custom client.
// Turn such a client's own retries off (option.WithMaxRetries(0) in both
// SDKs): each of its retries starts the Transport's over (one call under
// a 429 storm reached the API 13 times, against at most 9 for the
// Transport alone), and counts as a first attempt in the retry budget.
//
// Requests are sorted into gates by Key, by host unless set otherwise
// (KeyByModel: by API and model); each gate is built from Limits, or
// LimitsFor its key, the first time its key is seen. A request's
// concurrency slot is held until its response body is read to the end or
// closed, since the connection is busy until then (an unsuccessful
// response that is retried gives it back at once). Gates idle long enough
// to have nothing to remember are forgotten (see Gate). Every response
// that is not a success is searched for rate-limit headers, and every
// success once the gate has seen one; a gate that has seen none in its
// first second searches about one success in eight until it does.
//
// Token limits need no code: a request to the Anthropic Messages or OpenAI
// Chat Completions, Responses or Embeddings API is charged the tokens
// EstimateCost reads from its body, and settled with the usage its
// response reports (ScanUsage). Other requests under a token limit need
// Cost or WithCost; without them they fail with ErrUnknownCost, unsent.
// A retry the budget refuses is not waited for: this is live traffic (set
// Retry.BudgetMode to BudgetWait for batch work; a request made with a
// Pool item's context waits as the Pool does). The last response comes
// back at once, with a nil error; RoundTripInfo.Err matches ErrRetryBudget. A host that
// refuses the connection, or does not exist, gets one quick retry if it
// has never answered the gate's requests, a few (about 1.5 s) if it has,
// then the request fails with an *UnreachableError naming the address
// (see RetryPolicy.Do).
//
// Set the fields before the first request and leave them alone after. A
// Transport is safe for concurrent use. The zero Transport works: per-host
// gates with the zero Limits (an adaptive ceiling of DefaultConcurrency,
// rates learned from headers) and the zero RetryPolicy with a retry budget.
type Transport struct {
	// Base sends the requests. Nil means a clone of
	// http.DefaultTransport whose idle pool per host is sized to the
	// concurrency limit.
	Base http.RoundTripper
	// Limits builds the gate for each key.
	Limits Limits
	// Key names the gate a request goes through; nil means its host,
	// spelled one way (lower case, no trailing dot, no default port).
	// KeyByModel gives each model of an LLM API its own gate. Key may
	// read the body through req.GetBody, which RoundTrip provides.
	Key func(*http.Request) string
	// LimitsFor builds the Limits of the gate for a key, the first time
	// the key is seen (again after the gate is forgotten), so that keys
	// can have limits of their own: each model its own, with KeyByModel.
	// Nil means Limits for every key. It is called with the Transport's
	// lock held: it must be quick and must not call the Transport.
	LimitsFor func(key string) Limits
	// Retry says what is retried. A nil Retry.Budget means one budget
	// shared by all the Transport's requests.
	Retry RetryPolicy
	// AttemptTimeout bounds how long each attempt may wait for the
	// response headers; reading the body is not bounded by it, so a long
	// stream is not cut. 0 means no bound beyond the request's context.
	// With a nil Base, the base the Transport makes enforces it as its
	// http.Transport.ResponseHeaderTimeout, counted from when the request
	// has been written (the dial has its own 30s bound), which costs net/http
	// a timer per attempt (about 4 allocations); with a Base of the
	// caller's, each attempt gets a context that a timer cancels, counted
	// from the send, which costs twice that: a context, a timer, a copy
	// of the request, and net/http's cancel function registered under
	// the context. A Base that bounds the wait itself is left to it: an
	// http.Transport whose ResponseHeaderTimeout is AttemptTimeout, or a
	// Base with a method ResponseHeaderTimeout() time.Duration returning
	// AttemptTimeout, whose error for a wait cut is a net.Error that is a
	// Timeout and whose words end as net/http's, "timeout awaiting
	// response headers".
	AttemptTimeout time.Duration
	// Cost says what a request asks of the limits. Nil means the cost
	// the request's context carries (WithCost), else one request and,
	// when the gate keeps a token budget, the tokens EstimateCost
	// estimates from the Anthropic or OpenAI request body. Under a token
	// limit of Limits, a request whose tokens cannot be estimated fails
	// with ErrUnknownCost and is not sent.
	Cost func(*http.Request) Cost
	// Usage reads a successful response's real token usage when its body
	// has been read, to settle token budgets: it gets the first and the
	// last 32 KiB of the body (the whole body when smaller; both then hold
	// it). Nil means ScanUsage, which reads the Anthropic and OpenAI
	// shapes, for calls charged tokens, and nothing for the others. It is
	// not called for the endpoints that use no tokens (count_tokens and
	// the others EstimateCost names), whose answers may read like usage.
	Usage func(resp *http.Response, head, tail []byte) *Usage
	// MaxBodyBuffer is the largest request body kept in memory so it can
	// be sent again; larger bodies are sent once, without retries.
	// 0 means 8 MiB.
	MaxBodyBuffer int64

	once sync.Once
	base http.RoundTripper
	// baseTimesHeaders says that base enforces AttemptTimeout itself
	// (ResponseHeaderTimeout): the attempts need no context of their own.
	baseTimesHeaders bool
	budget           *RetryBudget
	epoch            time.Time
	mu               sync.Mutex
	gates            map[string]*keptGate     // see forget.go
	index            sync.Map                 // gates again, to be read without mu (Transport.use)
	last             atomic.Pointer[keptGate] // the gate made last, tried first (Transport.use)
	sweepAt          int                      // the number of gates that makes a new one sweep
	sweepDue         atomic.Int64             // when a round trip's end sweeps the idle gates, as t.now() (forget.go)
	retired          GateStats                // the counters of forgotten gates
	halted           error
}

// headerTimer is a Base that bounds the wait for each response's headers
// itself, as an http.Transport does with its ResponseHeaderTimeout: a
// wait it cuts fails with a net.Error whose Timeout is true and whose
// words end as net/http's, "timeout awaiting response headers".
type headerTimer interface {
	ResponseHeaderTimeout() time.Duration
}

// errNoHeaders is the cause of an attempt cancelled by AttemptTimeout.
var errNoHeaders = errors.New("sluice: attempt timed out waiting for headers")

// maxErrorBody is how much of an unsuccessful response is read to
// classify it.
const maxErrorBody = 64 << 10

func (t *Transport) init() {
	t.once.Do(func() {
		t.base = t.Base
		if t.base == nil {
			// The wait for the headers is bounded inside net/http, by
			// a timer of its own: half the allocations of a context per
			// attempt (56.1 a request against 51.8, transportbench's
			// timeout client; 48.0 without a timeout).
			tr := t.Limits.HTTPTransport()
			tr.ResponseHeaderTimeout = max(t.AttemptTimeout, 0)
			t.base, t.baseTimesHeaders = tr, t.AttemptTimeout > 0
		} else if tr, ok := t.base.(*http.Transport); ok && t.AttemptTimeout > 0 && tr.ResponseHeaderTimeout == t.AttemptTimeout {
			t.baseTimesHeaders = true // a base made as the one above
		} else if tr, ok := t.base.(headerTimer); ok && t.AttemptTimeout > 0 && tr.ResponseHeaderTimeout() == t.AttemptTimeout {
			t.baseTimesHeaders = true // a base that says it times them
		}
		t.budget = t.Retry.Budget
		if t.budget == nil {
			t.budget = &RetryBudget{}
		}
		t.epoch = time.Now()
		t.gates = make(map[string]*keptGate)
		t.sweepAt = minSweep
		t.sweepDue.Store(int64(sweepEvery))
	})
}

// Gate returns the gate for a key, creating it from Limits on first use.
// Use it to watch a gate (Stats, LearnedRate) or to pause it.
//
// The Transport forgets a gate once it is idle and remembers nothing a
// new one would not: nothing waiting, in flight or between attempts, no
// pause in force, not halted for an exhausted quota, and unused for a
// minute or the longest period of its rates, learned ones included. Its
// counters stay in the Transport's Stats. A *Gate kept past that is no
// longer the one requests go through: call Gate again rather than keeping
// what it returned.
func (t *Transport) Gate(key string) *Gate {
	t.init()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.gate(key).gate
}

// Halt halts every gate of the Transport, and those it creates later:
// requests waiting for admission, retries included, fail with err, while
// calls already in flight go on. Use it to stop a batch cleanly.
func (t *Transport) Halt(err error) {
	t.init()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.halted == nil {
		t.halted = err
	}
	for _, k := range t.gates {
		k.gate.Halt(err)
	}
}

// Stats adds up the stats of all the Transport's gates, forgotten ones
// included.
func (t *Transport) Stats() GateStats {
	t.init()
	t.mu.Lock()
	gates := make([]*Gate, 0, len(t.gates))
	for _, k := range t.gates {
		gates = append(gates, k.gate)
	}
	sum := t.retired
	t.mu.Unlock()
	for _, g := range gates {
		s := g.Stats()
		sum.Waiting += s.Waiting
		sum.InFlight += s.InFlight
		sum.Admitted += s.Admitted
		sum.Completed += s.Completed
		sum.Throttled += s.Throttled
		sum.Pauses += s.Pauses
		sum.Ceiling += s.Ceiling
		if s.PausedUntil.After(sum.PausedUntil) {
			sum.PausedUntil = s.PausedUntil
		}
		if !s.Learned.IsZero() {
			sum.Learned = Rate{N: sum.Learned.PerSec() + s.Learned.PerSec(), Per: time.Second}
		}
	}
	return sum
}

// RoundTripInfo is filled in by the Transport for a request whose context
// carries it (WithRoundTripInfo): how its round trip went.
type RoundTripInfo struct {
	Attempts int   // attempts made, retries included
	Class    Class // the last attempt's class
	// Err is the last attempt's error: a *StatusError for a response
	// that was not a success (with the API's message), the transport's
	// error when there was no response, or what stopped the retries.
	// It is nil after a success.
	Err error
}

type roundTripInfoKey struct{}

// WithRoundTripInfo returns a context that asks the Transport to fill in
// info for the request made with it.
func WithRoundTripInfo(ctx context.Context, info *RoundTripInfo) context.Context {
	return context.WithValue(ctx, roundTripInfoKey{}, info)
}

// KeyOf returns the key of the gate req goes through.
func (t *Transport) KeyOf(req *http.Request) string {
	if t.Key != nil {
		return t.Key(req)
	}
	if k := t.last.Load(); k != nil && k.key == req.URL.Host && !hasDefaultPort(req.URL) {
		// Spelled as the key made last, which hostKey made: already in
		// its one spelling, but for a port this scheme leaves out. Most
		// Transports send to one API, and comparing costs a tenth of
		// looking at every byte of the host again.
		return k.key
	}
	return hostKey(req.URL)
}

// CloseIdleConnections closes the base transport's idle connections.
func (t *Transport) CloseIdleConnections() {
	t.init()
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// RoundTrip sends req through its gate, retrying as the policy says, and
// returns the last response. As http.RoundTripper requires, an unsuccessful
// status is a response, not an error; errors are failures to get any
// response, a cancelled context, or a gate halted because the quota is
// exhausted. It closes req.Body on every path and leaves req unchanged.
// A 101 Switching Protocols (a WebSocket handshake) comes back as the
// base gave it, its body the connection; the handshake was the call, and
// its slot is free at once.
//
// An unsuccessful response that will be retried gives its concurrency
// slot back at once, the rest of its body read (up to 64 KiB) and
// discarded: the retry may need that very slot. Should the retry then not
// happen after all (the retry budget or MaxElapsed ran out), the response
// returned has only the body's first 64 KiB, then an error.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.init()
	var body requestBody
	if req.Body != nil && req.Body != http.NoBody { // a GET has none: no call, no copy
		var err error
		if body, err = t.rewindable(req); err != nil {
			return nil, err
		}
	}
	keyed := req
	if t.Key != nil && req.GetBody == nil && body.kept != nil {
		// The key may read the body (KeyByModel): lend it the copy kept
		// for retries, on a shallow copy of req so that req is unchanged.
		r := *req
		copyOf := body.kept // not body itself, which would then live on the heap for every request
		r.GetBody = copyOf
		keyed = &r
	}
	kept, stripe := t.use(t.KeyOf(keyed))
	// ended is the last attempt's end, as t.now(), to mark the gate used
	// without a clock read (its admission, for a call whose latency was
	// not read: Permit.latencyUnread); 0 for none.
	var ended time.Duration
	// sending is the permit of the attempt in the base's hands, set only
	// while it is: a Base that panics, recovered by the caller (an HTTP
	// server recovers each request's), kept its slot for good, and a gate
	// of Concurrency N sent nothing more after N panics.
	var sending *Permit
	defer func() {
		if sending != nil { // the base panicked; the panic goes on
			sending.Done(Outcome{Class: ClassCanceled})
		}
		if ended == 0 {
			ended = time.Duration(t.now())
		}
		t.unuse(kept, stripe, int64(ended))
	}()
	gate := kept.gate
	var cost Cost
	var err error
	if t.Cost == nil && !kept.tokenLimited && !gate.learning.Load() {
		// What t.cost says for a gate with no token budget, given or
		// learned (none is learned before the gate learns anything):
		// the context's cost if any, else one request, without the call.
		cost, _ = CostFrom(req.Context())
	} else if cost, err = t.cost(req, kept, &body); err != nil {
		body.close()
		return nil, err
	}
	cost = unsentFor(gate, cost) // a window counts the call from when it leaves (transport_sent.go)
	policy := t.Retry
	policy.Budget = t.budget
	if body.stream != nil {
		policy.MaxAttempts = 1 // too large to keep: sent once, streamed
	}
	maxAttempts := policy.maxAttempts()

	// The first attempt is sent from here, not from runTo: a call waiting
	// for its response then has one frame of this package on its stack
	// rather than four, and the garbage collector walks the frames of
	// every waiting call in every cycle, which a busy Transport runs
	// every few milliseconds (issue 15: a tenth of the instructions the
	// Transport added to each call). runTo takes over only for a retry.
	ctx := req.Context()
	to := host{addr: req.URL.Host, answered: &kept.answered}
	var first firstAttempt
	if policy.MaxElapsed > 0 {
		first.begin = time.Now()
	}
	permit, err := gate.Acquire(ctx, cost)
	if err != nil {
		return t.finish(req, nil, &body, 0, 0, err)
	}
	first.turn = permit.since
	if policy.Budget != nil {
		// Counted once admitted, at the admission's time, as runTo does.
		policy.Budget.attemptOf(permit)
	}
	rc, err := body.next()
	if err != nil {
		return t.finish(req, nil, &body, unsendable(permit).Class, 1, err)
	}
	out, cancel, headersLate := t.prepare(ctx, req, rc)
	out = sentBy(out, permit)
	sending = permit
	resp, err := t.base.RoundTrip(out)
	sending = nil
	resp, first.err = t.settle(ctx, req, gate, permit, maxAttempts <= 1, resp, err, cancel, headersLate, &first.o)
	ended = kept.since(permit) + first.o.Latency
	if first.o.Class == ClassOK {
		to.heard() // as runTo does for a success
		return t.finish(req, resp, &body, ClassOK, 1, first.err)
	}
	if policy.BudgetMode == BudgetAuto && workerOf(ctx) != nil {
		// A Pool item's call is batch work, as the Pool's own retries
		// are: failing fast on the budget handed back a blip's 429, which
		// the Pool does not retry after a Transport's retries, and lost
		// the whole batch (outside review: 100 of 100 items in a second).
		policy.BudgetMode = BudgetWait
	}
	n := 1
	last, attempts, err := policy.runTo(ctx, gate, cost, to, &first, func(ctx context.Context, permit *Permit) (Outcome, error) {
		if resp != nil { // the previous attempt's, released when it failed
			resp.Body.Close()
			resp = nil
		}
		n++
		var o Outcome
		var err error
		rc, err := body.next()
		if err != nil {
			return unsendable(permit), Permanent(err)
		}
		sending = permit
		resp, o, err = t.attempt(ctx, req, rc, gate, permit, n >= maxAttempts)
		sending = nil
		ended = kept.since(permit) + o.Latency
		return o, err
	})
	if maxAttempts > 1 {
		if w := workerOf(ctx); w != nil {
			w.retried.Store(true) // a Pool item's: the Pool retries it no more
		}
	}
	return t.finish(req, resp, &body, last.Class, attempts, err)
}

// finish ends a round trip that made attempts, the last of class last,
// and ended with err, and resp if any.
func (t *Transport) finish(req *http.Request, resp *http.Response, body *requestBody, last Class, attempts int, err error) (*http.Response, error) {
	body.close()
	if resp != nil && req.Context().Err() != nil {
		resp.Body.Close()
		resp, err = nil, req.Context().Err()
	}
	if resp == nil && err == nil {
		err = errors.New("sluice: no response")
	}
	if info, ok := req.Context().Value(roundTripInfoKey{}).(*RoundTripInfo); ok {
		info.Attempts, info.Class, info.Err = attempts, last, err
	}
	if resp != nil {
		return resp, nil
	}
	return nil, err
}

// attempt sends req once, with body. Unsuccessful responses are read (up
// to maxErrorBody) to classify them; one that will be retried gives its
// permit back at once, while a successful one, and the last, keep it until
// their body is consumed.
func (t *Transport) attempt(ctx context.Context, req *http.Request, body io.ReadCloser, gate *Gate, permit *Permit, lastAttempt bool) (*http.Response, Outcome, error) {
	out, cancel, headersLate := t.prepare(ctx, req, body)
	out = sentBy(out, permit)
	resp, err := t.base.RoundTrip(out)
	var o Outcome
	resp, err = t.settle(ctx, req, gate, permit, lastAttempt, resp, err, cancel, headersLate, &o)
	return resp, o, err
}

// prepare returns the request an attempt sends, with body, and, with an
// AttemptTimeout the base does not enforce, the attempt's own context's
// cancel and the timer that cancels it.
func (t *Transport) prepare(ctx context.Context, req *http.Request, body io.ReadCloser) (*http.Request, context.CancelCauseFunc, *time.Timer) {
	// With an AttemptTimeout the attempt has its own context, which the
	// timer cancels and which ends with the body; the timeout covers only
	// the wait for the headers, so a long stream is not cut. Without one
	// the request goes out as the caller made it, on the caller's context:
	// a context, a closure and a copy of the request fewer per call.
	out, sendCtx, cancel := req, ctx, context.CancelCauseFunc(nil)
	var headersLate *time.Timer
	if t.AttemptTimeout > 0 && !t.baseTimesHeaders {
		sendCtx, cancel = context.WithCancelCause(ctx)
		headersLate = time.AfterFunc(t.AttemptTimeout, func() { cancel(errNoHeaders) })
	}
	if body != nil || cancel != nil { // ctx is req's own context: RoundTrip runs the policy with it
		// A shallow copy, not Clone: nothing here or below changes the URL
		// or the header, and the copy of both cost a fifth of the
		// Transport's time.
		out = req.WithContext(sendCtx)
		if body != nil {
			out.Body = body
		}
	}
	return out, cancel, headersLate
}

// settle classifies what the base answered an attempt admitted with
// permit (see attempt), into o.
func (t *Transport) settle(ctx context.Context, req *http.Request, gate *Gate, permit *Permit, lastAttempt bool, resp *http.Response, err error, cancel context.CancelCauseFunc, headersLate *time.Timer, o *Outcome) (*http.Response, error) {
	// Once the timer has fired, the attempt is cancelled, and the body
	// with it, however close behind the headers were: it timed out.
	timedOut := headersLate != nil && !headersLate.Stop()
	if timedOut && err == nil {
		resp.Body.Close()
		resp, err = nil, errNoHeaders
	}
	if err != nil {
		// Latency is measured from the admission, a few calls before the
		// send: a clock read fewer per call, and clock reads are not cheap on
		// every host (a KVM guest's kvm-clock: 250-500 ns each).
		latency := permit.elapsed()
		endAttempt(cancel)
		*o = Outcome{Latency: latency, Class: Classify(0, nil, nil, err), Timeout: isTimeout(err)}
		if neverSent(err) {
			o.Usage = &Usage{} // the API never saw it: its tokens are refunded
		}
		switch {
		case ctx.Err() != nil:
			o.Class, o.Timeout = ClassCanceled, false
			err = ctx.Err()
		case timedOut || t.baseTimesHeaders && headersTimedOut(err):
			o.Class, o.Timeout = ClassTransient, true
			err = fmt.Errorf("sluice: no response within %v: %w", t.AttemptTimeout, context.DeadlineExceeded)
		}
		permit.Done(*o)
		return nil, err
	}
	*o = Outcome{}
	// A base that reports no write (transport_sent.go): the request left before its answer.
	permit.sent()
	if permit.searchesHeaders(resp.StatusCode) && mayLimit(resp.Header) { // no clock read and no parsing for an API that says nothing
		permit.heard()
		if info := parseRateLimitHeaders(resp.Header, time.Now()); info.said() {
			said := info // a copy, so that info stays off the heap when nothing was said
			o.RateLimit = &said
		}
	}
	if o.RateLimit == nil && resp.StatusCode >= 200 && resp.StatusCode < 300 && permit.latencyUnread() {
		// A healthy call whose latency nobody will read (most calls at
		// the top of an adaptive ceiling): the clock is not read for it.
		o.unmeasured = true
	} else {
		o.Latency = permit.elapsed()
	}
	latency := o.Latency
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// An upgrade (a WebSocket): the body is the connection, the
		// caller's to read and write for as long as it likes, and not
		// an answer to wait for. The handshake was the call: its slot is
		// free, and the response goes back as net/http gave it.
		o.Class = ClassOK
		permit.Done(*o)
		endAttempt(cancel)
		return resp, nil
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		o.Class = ClassOK
		if resp.Body == http.NoBody {
			// Nothing to read (HEAD, 204, Content-Length: 0): no
			// connection is busy, and code that never closes an empty
			// body, as net/http lets it, must not keep the slot.
			permit.Done(*o)
			endAttempt(cancel)
			return resp, nil
		}
		if o.RateLimit != nil {
			gate.learnWhileInFlight(*o) // now, not when the body ends: the next calls need it
			o.RateLimit = nil
		}
		permit.responded()
		hb := &heldBody{rc: resp.Body, permit: permit, latency: latency, unmeasured: o.unmeasured}
		// A count endpoint's answer ({"input_tokens": 6750}) reads like
		// usage but is none: the call used no tokens (estimate.go).
		usage := t.usage(permit)
		if usage != nil && freeAPI(req.URL.Path) {
			usage = nil
		}
		if cancel != nil || usage != nil {
			hb.more = &heldMore{outcome: *o, cancel: cancel}
			if usage != nil {
				hb.more.usage, hb.more.resp = usage, resp
				hb.more.sample = &bodySample{}
			}
		}
		resp.Body = hb
		return resp, nil
	}
	head, complete := readHead(resp.Body)
	o.Class = Classify(resp.StatusCode, resp.Header, head, nil)
	o.ConcurrencyLimited = o.Class == ClassThrottled && mentionsConcurrency(head)
	if refusedUndone(resp.StatusCode, o.Class) {
		o.Usage = &Usage{} // its token estimate is refunded (classify.go says why)
	}
	var statusErr error = &StatusError{Status: resp.StatusCode, Class: o.Class, Message: apiMessage(head)}
	switch {
	case complete:
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(head))
		permit.Done(*o)
		endAttempt(cancel)
	case o.Class.Retryable() && !lastAttempt:
		// Retried, unless the budget says otherwise: the retry's Acquire
		// may need this very slot, so it is given back now, pause and
		// ceiling applied, and the connection freed if the rest is short.
		io.CopyN(io.Discard, resp.Body, maxDrain)
		resp.Body.Close()
		permit.Done(*o)
		endAttempt(cancel)
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(head), errReader{errBodyDiscarded}))
	default:
		// The last response: the caller may read all of it, and the slot
		// is held until then. What it says about the limits is for the
		// other calls now.
		held := *o
		if held.RateLimit != nil {
			gate.learn(held)
			held.RateLimit = nil
		}
		rest := resp.Body
		hb := &heldBody{rc: struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), rest), rest}, permit: permit, more: &heldMore{outcome: held, cancel: cancel}}
		resp.Body = hb
	}
	return resp, statusErr
}

// maxDrain is how much more of a retried error response is read, so that
// its connection can be reused, before it is closed.
const maxDrain = 64 << 10

// errBodyDiscarded ends the body of an error response that was released
// to be retried, then returned because the retry did not happen.
var errBodyDiscarded = errors.New("sluice: the rest of the error body was discarded to retry")

// readHead reads up to maxErrorBody bytes of r, reporting whether that was
// all of it.
func readHead(r io.Reader) ([]byte, bool) {
	head, err := io.ReadAll(io.LimitReader(r, maxErrorBody+1))
	if len(head) > maxErrorBody {
		return head, false
	}
	return head, err == nil
}

// requestBody gives each attempt its own copy of a request's body.
type requestBody struct {
	kept   func() (io.ReadCloser, error) // a fresh copy per attempt; nil when not kept
	stream io.ReadCloser                 // a body too large to keep, until sent once
	read   []byte                        // what was read of it (all of it when kept, without GetBody)
}

// next returns the body for the next attempt, nil when there is none,
// or why there is none to send (the request's GetBody failed).
func (b *requestBody) next() (io.ReadCloser, error) {
	if b.kept != nil {
		return b.kept()
	}
	s := b.stream
	b.stream = nil // the base transport closes it
	return s, nil
}

// close closes a stream no attempt was made with.
func (b *requestBody) close() {
	if b.stream != nil {
		b.stream.Close()
	}
}

// rewindable returns a way to get req's body afresh for each attempt, or
// the body to send once when it is too large to keep. Either way req.Body
// is closed, by the time RoundTrip returns, and req is left as it was.
func (t *Transport) rewindable(req *http.Request) (requestBody, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return requestBody{}, nil
	}
	if req.GetBody != nil {
		req.Body.Close() // each attempt gets its own copy
		return requestBody{kept: func() (io.ReadCloser, error) {
			b, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("sluice: the request's GetBody: %w", err)
			}
			return b, nil
		}}, nil
	}
	limit := t.MaxBodyBuffer
	if limit <= 0 {
		limit = 8 << 20
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	if err != nil {
		req.Body.Close()
		return requestBody{}, fmt.Errorf("sluice: reading request body: %w", err)
	}
	if int64(len(buf)) > limit {
		// Too large to keep: send what was read, then the rest, once.
		return requestBody{stream: struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), req.Body), req.Body}, read: buf}, nil
	}
	req.Body.Close()
	return requestBody{kept: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }, read: buf}, nil
}

// errReader is a body that fails with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// unsendable ends an admission whose body could not be had: nothing was
// sent, so its charge is given back, and the call fails at once. The
// failure was a body that failed on its first read, after net/http had
// written the headers: the API got a truncated request, the write error
// read as transient, and the call was sent so, truncated, every attempt.
func unsendable(permit *Permit) Outcome {
	o := Outcome{Class: ClassFatal, Usage: &Usage{}}
	permit.Done(o)
	return o
}

// admittedAt is when p was admitted, or now without a permit (a nil gate).
func (p *Permit) admittedAt() time.Time {
	if p == nil {
		return time.Now()
	}
	return p.gate.at(p.since)
}

// latencyUnread reports whether no limit will read the latency of a
// healthy outcome of p that says nothing of the API's limits, so that
// the Transport need not read the clock for it: none of the gate's limits
// reads latencies (Gate.timed), or the one limit p was taken from is the
// gate's AdaptiveLimit (Gate.sole), now at its top, and p's admission is
// not among the one in topSampling sampled there (AdaptiveLimit.finishAt).
// Shared limits read every latency.
func (p *Permit) latencyUnread() bool {
	if p == nil || p.shared != nil {
		return false
	}
	g := p.gate
	if !g.timed {
		return true
	}
	a := g.sole
	return a != nil && int(p.from) == g.skip && !sampledAt(p.since) && a.atTop.Load()
}

// searchesHeaders reports whether the response to p's call, of the
// status, is searched for rate-limit headers (mayLimit): every response
// that is not a success, and every success while the gate is young (its
// first second) or once any response to it has carried one. An API that
// has sent none in a second of successes has one success in topSampling
// searched, picked by the low bits of its admission (sampledAt), and is
// heard within a few calls when it starts: a range over the header map of
// every response cost a Transport about 450 instructions a call, 0.75% of
// a plain client's, most of them for APIs that never send any.
func (p *Permit) searchesHeaders(status int) bool {
	if p == nil || status < 200 || status >= 300 {
		return true
	}
	g := p.gate
	return g.heard.Load() || p.since < time.Second || sampledAt(p.since) || g.epoch.IsZero()
}

// heard records that a response to p's call carried a rate-limit header.
func (p *Permit) heard() {
	if p != nil && !p.gate.heard.Load() { // one write, not one a call
		p.gate.heard.Store(true)
	}
}

// elapsed is the time since p was admitted, 0 without a permit.
func (p *Permit) elapsed() time.Duration {
	if p == nil {
		return 0
	}
	return p.gate.elapsed(p.since)
}

// headersTimedOut reports whether err is an http.Transport's
// ResponseHeaderTimeout expiring, over HTTP/1 or HTTP/2. net/http exports
// neither error, so they are known by their words, unchanged since Go 1.1
// and 1.6.
func headersTimedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && strings.HasSuffix(err.Error(), "timeout awaiting response headers")
}

// endAttempt ends an attempt's own context, if it has one.
func endAttempt(cancel context.CancelCauseFunc) {
	if cancel != nil {
		cancel(nil)
	}
}
