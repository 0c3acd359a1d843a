package sluice

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"
)

// heldBody is the body of a response whose attempt still holds its
// permit: it releases the permit, with the outcome, once, when the body is
// read to its end or closed (the connection is busy until then). Every
// successful call goes through one, so what a plain success needs (the
// permit and the latency) is all it holds: 48 bytes. What is rarer (an
// unsuccessful outcome, an attempt's own context, a usage sample) is kept
// behind more.
//
// Each is allocated on its own. They came from slabs of 26 (one
// allocation in 26 calls), but a slab lives as long as any of its bodies
// does, and every body in it keeps its response's body, and what that
// holds of net/http's per-request structures, alive as long: a few
// hundred dead responses marked by every collection, which came more
// often too, as a Transport's heap is small and its goal pinned at the
// 4 MB minimum, where every live byte shortens the run between cycles.
// Callgrind, transportbench's sluice client (10,000 GETs from 64
// goroutines): heap marking 3.17M -> 2.99M instructions a cycle, 17.7 ->
// 17.1 cycles, 82,200 -> 81,400 a request (means of 6 and 7 runs), the
// allocations costing about 100 of what the collector saved.
type heldBody struct {
	rc      io.ReadCloser
	permit  *Permit
	latency time.Duration // a success's outcome: ClassOK, this latency
	state   atomic.Uint32 // heldOpen, then heldEnding, then heldEnded
	// unmeasured: the latency was not read, the call thinned out at the
	// top of the adaptive ceiling (Permit.latencyUnread).
	unmeasured bool
	more       *heldMore // nil for a plain success
}

// heldBody.state: ended once, by the first Read to fail or the first Close.
const (
	heldOpen uint32 = iota
	heldEnding
	heldEnded
)

// heldMore is what a heldBody rarely needs.
type heldMore struct {
	outcome Outcome                 // in place of a success's
	cancel  context.CancelCauseFunc // nil when the attempt has no context of its own
	sample  *bodySample             // nil unless usage is read from the body
	usage   func(resp *http.Response, head, tail []byte) *Usage
	resp    *http.Response
	whole   atomic.Bool // the body was read to its end
}

func (b *heldBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if m := b.more; m != nil && m.sample != nil {
		m.sample.write(p[:n])
	}
	if err != nil {
		if b.more != nil && err == io.EOF { // a plain success has no more: no comparison of errors
			b.more.whole.Store(true)
		}
		b.end()
	}
	return n, err
}

func (b *heldBody) Close() error {
	err := b.rc.Close()
	b.end()
	return err
}

// end releases the permit, once. A Close racing an EOF returns only once
// the permit is released, as a sync.Once would have it, for a
// compare-and-swap rather than a mutex on every call: the race is rare
// and the release short, so the loser yields until it is over.
func (b *heldBody) end() {
	if b.state.CompareAndSwap(heldOpen, heldEnding) {
		defer b.state.Store(heldEnded) // also when a Usage func panics: a later Close must not spin
		b.release()
		return
	}
	for b.state.Load() == heldEnding {
		runtime.Gosched()
	}
}

func (b *heldBody) release() {
	// The body may outlive its call (a caller keeping the response): let
	// go of the permit, so that it does not keep its slab, 21 permits
	// long, alive as long.
	p := b.permit
	b.permit = nil
	m := b.more
	if m == nil {
		p.Done(Outcome{Latency: b.latency, unmeasured: b.unmeasured})
		return
	}
	// Usage is read only from a body read to its end. A stream closed
	// early was charged by the API for more than its first events say
	// (Anthropic's message_start reports 1 output token): the estimate
	// stands.
	defer func() {
		// Also when the user's Usage func panics: the panic goes on, the
		// slot does not stay taken.
		p.Done(m.outcome)
		endAttempt(m.cancel)
	}()
	if m.sample != nil && m.whole.Load() {
		head, tail := m.sample.parts()
		m.outcome.Usage = m.usage(m.resp, head, tail)
	}
}
