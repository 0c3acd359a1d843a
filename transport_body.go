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
// permit and the latency) is all it holds: 48 bytes, handed out from
// slabs (newHeldBody). What is rarer (an unsuccessful outcome, an
// attempt's own context, a usage sample) is kept behind more.
type heldBody struct {
	rc      io.ReadCloser
	permit  *Permit
	latency time.Duration // a success's outcome: ClassOK, this latency
	state   atomic.Uint32 // heldOpen, then heldEnding, then heldEnded
	more    *heldMore     // nil for a plain success
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
		if err == io.EOF && b.more != nil {
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
		b.release()
		b.state.Store(heldEnded)
		return
	}
	for b.state.Load() == heldEnding {
		runtime.Gosched()
	}
}

func (b *heldBody) release() {
	// The body outlives its call in its slab, and the slab outlives the
	// body: let go of the permit, so that it does not keep its own slab,
	// 17 permits long, alive as long.
	p := b.permit
	b.permit = nil
	m := b.more
	if m == nil {
		p.Done(Outcome{Latency: b.latency})
		return
	}
	// Usage is read only from a body read to its end. A stream closed
	// early was charged by the API for more than its first events say
	// (Anthropic's message_start reports 1 output token): the estimate
	// stands.
	if m.sample != nil && m.whole.Load() {
		head, tail := m.sample.parts()
		m.outcome.Usage = m.usage(m.resp, head, tail)
	}
	p.Done(m.outcome)
	endAttempt(m.cancel)
}

// heldPerSlab is how many heldBodies one allocation holds: 26 of 48 bytes
// and the slab's 8 fill the allocator's 1280-byte size class, as the
// Permits' slabs do (gate_permits.go), for one allocation in 26 calls
// where each call allocated its own. A body still referenced keeps its
// slab alive: at most 26 times what the live bodies need.
const heldPerSlab = 26

// A heldSlab is heldBodies allocated together and handed out once each:
// a body is never reused, so a late Read or Close can only reach its own
// call's permit, which ignores a second Done.
type heldSlab struct {
	next   atomic.Int32
	bodies [heldPerSlab]heldBody
}

// A heldStripe is where the goroutines of one stripe (gate_permits.go)
// take their heldBodies, on a cache line of its own.
type heldStripe struct {
	slab atomic.Pointer[heldSlab]
	_    [56]byte
}

// newHeldBody returns a fresh zero heldBody from the current slab of the
// caller's stripe, starting a new slab when it is used up. Callers that
// come while another starts the next slab get a body of their own.
func (t *Transport) newHeldBody() *heldBody {
	st := &t.held[callerStripe()]
	s := st.slab.Load()
	if s != nil {
		i := s.next.Add(1) - 1
		if i < heldPerSlab {
			return &s.bodies[heldSlot(i)]
		}
		if i > heldPerSlab {
			return new(heldBody)
		}
	}
	next := new(heldSlab)
	next.next.Store(1)
	if s != nil {
		st.slab.Store(next) // only the caller that took index heldPerSlab gets here for s
	} else {
		st.slab.CompareAndSwap(nil, next) // lost to another first caller: next serves this call alone
	}
	return &next.bodies[0]
}

// heldSlot spreads a slab's bodies as slabSlot spreads Permits: bodies
// handed out one after the other, to calls that may run on different
// cores at once, are written by their Read and Close.
func heldSlot(i int32) int32 { return i%2*(heldPerSlab/2) + i/2 }
