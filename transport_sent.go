package sluice

import (
	"net/http"
	"net/http/httptrace"
)

// A strict API counts a call when it arrives, and a call a Transport
// admits leaves later: a new connection's dial and TLS handshake take
// 60-100 ms, more on a slow network. A SlidingWindow that counted the
// first window's calls from their admission let the second window's go
// at once on the warm connections, and they reached the API inside the
// first window (outside reviews: 20/1s, 20 new connections, all 20 calls
// of the second second refused). The margin (margin.go) covers network
// jitter, not a handshake.
//
// So the Transport marks the Cost of a call through a gate holding a
// window unsent, and the window takes it pending: it counts in every
// window until the request has been written (net/http's WroteRequest,
// from a trace on the attempt's context), and from then on at that time.
// WroteRequest, not WroteHeaders: an LLM API counts a call per model,
// which it learns only from the body, and net/http may still hold the
// headers in its buffer when it reports them written; a call dated after
// the API has it is safe, one dated before is not. Dating at the write
// rather than at admission only ever moves a start later, which delays
// later admissions and never hastens one; and since
// a pending call counts in every window, however long it waits for its
// connection, the window holds at the times calls really leave.
//
// A call whose request is never written (a dial that fails) is dated
// when its Permit is Done, the latest it can have left. A Base that does
// not report httptrace's WroteRequest (one not built on net/http's
// Transport) has its calls dated when their response begins, which is
// safe but holds a unit of the window for the wait for the answer: the
// next window's calls start that much later. The trace costs allocations
// (a copy of the request, a context, the trace), so only a request
// through a gate holding a window gets one.

// datesSends reports whether l counts a call from when it leaves, so
// that its gate's Transport must tell the Permit when it has (Gate.dated).
func datesSends(l Limit) bool {
	w, ok := l.(*SlidingWindow)
	return ok && w.limit != 0
}

// sentDater is a limit that dates a call taken pending (Cost.unsent) when
// told it has left.
type sentDater interface {
	sent(c Cost)
}

// sent tells the permit's limits that the call's request has left now.
// Only the first of sent and Done dates the call; sent after Done does
// nothing. It does nothing for a call not taken pending (a Cost not
// marked unsent), at the cost of a test, inlined. Safe for concurrent use.
func (p *Permit) sent() {
	if p != nil && p.cost.unsent {
		p.sentPending()
	}
}

// sentPending is sent for a call taken pending. Not inlined, so that sent
// is: a Transport without a window pays a test per call and no call.
//
//go:noinline
func (p *Permit) sentPending() {
	if was := p.state.Or(permitSent); was&(permitSent|permitDone) != 0 {
		return
	}
	p.date()
	if p.shared != nil {
		p.shared.sent() // a shared window (SentTicket); Finish dates it otherwise
	}
}

// date dates the call at now in every limit of the permit that took it
// pending.
func (p *Permit) date() {
	for _, l := range p.gate.limits[p.from:] {
		if d, ok := l.(sentDater); ok {
			d.sent(p.cost)
		}
	}
}

// unsentFor returns c marked unsent when gate counts calls from when they
// leave: the attempts' permits are then told so (sentBy).
func unsentFor(gate *Gate, c Cost) Cost {
	c.unsent = gate.dated
	return c
}

// sentBy returns out with a trace that tells permit when the request has
// been written, for a permit taken pending; out itself otherwise, at the
// cost of a test, inlined.
func sentBy(out *http.Request, permit *Permit) *http.Request {
	if !permit.cost.unsent {
		return out
	}
	return traced(out, permit)
}

// traced is sentBy for a permit taken pending. A write that fails dates
// nothing: net/http may send the request again on a new connection, whose
// dial is just what the window must not count early.
func traced(out *http.Request, permit *Permit) *http.Request {
	trace := &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
		if info.Err == nil {
			permit.sent()
		}
	}}
	return out.WithContext(httptrace.WithClientTrace(out.Context(), trace))
}
