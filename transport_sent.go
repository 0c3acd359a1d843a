package sluice

import (
	"net/http"
	"net/http/httptrace"
	"time"
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
// (a copy of the request, a context, the trace and its callback: 5, about 570 bytes), so
// only a request through a gate holding a window or a rate (given or
// learned), or one of a gate's first calls before it learned anything,
// gets one.

// A RateLimiter counts a call from its admission: paced starts reach
// the API within the margin's networkJitter of it, as a rule. A call
// whose request leaves later than that (a new connection's dial, a
// sender descheduled between admission and write) reaches the API among
// calls admitted after it, and a pace met at admission is broken there:
// on a fake clock, one new connection of 10 ms among 1 ms ones put 201
// arrivals of a paced 200/s inside a second, and the strict API refused
// one (TestTransportRateCountsACallThatLeftLate). So a call written more
// than lateSend after its admission is charged to the gate's rates again,
// at the time it left, as if it had started then: the calls admitted
// after it are paced from there. That costs up to an interval per late
// call (its first charge is not given back: calls admitted since may
// have been paced on it), and only for late calls: on loopback under
// load, 1-8 calls in 2000 (bench/cmd/feedback). A call admitted before
// the gate learned its pace (unpaced, learn.go) is noted, or charged to
// the learned pace, the same way: three first calls whose connections
// opened after the pace was learned drew the learned pace's 429.
//
// lateSend is the part of networkJitter a call may spend between its
// admission and its write before it is charged again; the rest is left
// for the way to the API.
const lateSend = 2 * time.Millisecond

// datesSends reports whether l counts a call from when it leaves, so
// that its gate's Transport must tell the Permit when it has (Gate.dated):
// a window dates every call, a rate charges a late one again.
func datesSends(l Limit) bool {
	switch l := l.(type) {
	case *SlidingWindow:
		return l.limit != 0
	case *RateLimiter:
		return true
	}
	return false
}

// sentDater is a limit that dates a call taken pending (Cost.unsent) when
// told it has left.
type sentDater interface {
	sent(c Cost)
}

// sent tells the permit's limits that the call's request has left by
// now: its response has begun (a Base that reports no write), or net/http
// reports it written. Only the first of sent and Done dates the call; sent
// after Done does nothing. It does nothing for a call not taken pending (a
// Cost not marked unsent), at the cost of a test, inlined. Safe for
// concurrent use.
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

// headersWritten is told that net/http has written the request's
// headers now, and charges the call again if that was late (chargeLate),
// once a call. The request began to leave then: judged by when its
// whole body was written, a large upload (8 MB to an LLM API) left late
// every time and was paced twice (outside review: --rate 1/s sent them
// at 0.5/s). Its windows still date it when the whole request is written.
func (p *Permit) headersWritten() {
	if p == nil || !p.cost.unsent {
		return
	}
	if was := p.state.Or(permitCharged); was&(permitCharged|permitDone) == 0 {
		p.chargeLate()
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

// chargeLate charges the call again to the gate's rates, at now, when its
// request began to leave (its headers were written) more than lateSend
// after its admission. A call whose write was not reported is not charged
// again at its response or its end: when it left is unknown, and a Base
// that never says (one not built on net/http) would have every call paced
// twice.
func (p *Permit) chargeLate() {
	g := p.gate
	now, since := g.clock()
	if since-p.since <= lateSend {
		return
	}
	n := p.cost.requests()
	late := since - p.since
	for _, l := range g.limits[p.from:] {
		if r, ok := l.(*RateLimiter); ok {
			r.chargeAt(n, now, late)
		}
	}
	if p.from != 0 {
		// Admitted before the gate learned its pace: noted as a start
		// for the first learning, and charged to the pace if it was
		// learned meanwhile (both, when the two race: charged twice,
		// never missed).
		g.learned.noteUnpaced(since)
		g.learned.requests.chargeAt(n, now, maxSpan) // never charged: the whole cost
	}
}

// chargeAt charges n units started at t, late after they were charged
// (at most their cost: maxSpan for units never charged): the next unit
// may start no sooner than n intervals after t, and what was charged
// already moves on by late. Moved on by that much, the calls paced after
// them keep their spacing from t; moved on by the whole cost again, a
// call 3 ms late at 1/h held the next an hour more (a proxy test under
// load, Retry-After 7201 for 3600).
func (l *RateLimiter) chargeAt(n int, t time.Time, late time.Duration) {
	for {
		tat, p := l.load()
		if p == nil || p.interval == 0 {
			return
		}
		cost := mulSat(int64(n), p.interval)
		by := min(max(int64(late), 0), cost)
		if l.tat.CompareAndSwap(tat, l.advance(tat, l.at(t)+cost-by, by)) {
			return
		}
	}
}

// unsentFor returns c marked unsent when gate counts calls from when they
// leave, or its learned pace may have to charge a late one (learnsSends):
// the attempts' permits are then told so (sentBy).
func unsentFor(gate *Gate, c Cost) Cost {
	c.unsent = gate.dated || gate.learnsSends()
	return c
}

// learnsSends reports whether the gate's learned pace wants to hear when
// its calls leave: it has a rate, or the first learning may still come
// and the calls before it are still noted (unpacedKept). Two atomic loads.
func (g *Gate) learnsSends() bool {
	if p := g.learned.requests.params.Load(); p != nil && p.interval != 0 {
		return true
	}
	return !g.learning.Load() && g.learned.unpaced.Load() < unpacedKept
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
	trace := &httptrace.ClientTrace{
		WroteHeaders: permit.headersWritten,
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				permit.sent()
			}
		},
	}
	return out.WithContext(httptrace.WithClientTrace(out.Context(), trace))
}
