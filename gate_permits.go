package sluice

import (
	"sync/atomic"
	"unsafe"
)

// Admissions and Dones on several cores at once must not all write one
// cache line: on another core, a write to a line just written waits for the
// writer's copy (about 100ns on a 2-core EPYC VM, half an admission). So
// the gate's counters and its slab of Permits are split in stripes, and a
// caller uses the stripe of its goroutine: one goroutine keeps to one
// stripe, and goroutines running at once mostly use different ones (two
// whose stacks are far apart share one about one time in eight).

// gateStripes is how many stripes a Gate has, 1<<stripeBits. More spreads
// callers wider; each costs a cache line and may hold a slab of Permits.
const (
	stripeBits  = 3
	gateStripes = 1 << stripeBits
)

// A gateStripe counts the admissions (through its slabs) and the Dones of
// the goroutines that use it, on a cache line of its own.
type gateStripe struct {
	permits   atomic.Pointer[permitSlab] // where admit takes its next Permit
	unslabbed atomic.Int64               // admissions whose Permit came from no current slab
	completed atomic.Int64
	_         [40]byte
}

// stripe returns the calling goroutine's stripe, chosen by where its stack
// is: goroutines have stacks of their own, at least 2 KiB apart, and each
// keeps to one stripe (until its stack moves, which changes nothing but
// speed). Multiplicative hashing of the 2 KiB block sends stacks a power
// of two blocks apart (neighbours, and stacks of one size carved from one
// span, 4, 8, 16 KiB apart) to different stripes, and mixes in the high
// bits of large stacks, whose low bits say only how deep the call is. The
// Go runtime offers no cheaper way to tell goroutines or cores apart.
func (g *Gate) stripe() *gateStripe {
	var here byte
	return &g.stripes[stripeOf(uintptr(unsafe.Pointer(&here)))]
}

// callerStripe is the calling goroutine's stripe, as Gate.stripe tells
// it, for other counters written by every call (RetryBudget.Attempt).
func callerStripe() uint64 {
	var here byte
	return stripeOf(uintptr(unsafe.Pointer(&here)))
}

// stripeOf is the stripe of a goroutine whose stack holds stack.
//
// The multiplier puts blocks 2^k apart (k < 7) at least an eighth of the
// hash's range apart, so always in different stripes (see
// TestStacksAPowerOfTwoApartGetDifferentStripes). The golden ratio's
// (Fibonacci hashing) put blocks 16 KiB apart in one stripe more than
// half the time: BenchmarkGateParallel's two goroutines, whose stacks are
// often that far apart, shared a stripe in a third of the runs and paid
// 15-40% more CPU per admission in those.
func stripeOf(stack uintptr) uint64 {
	return uint64(stack>>11) * stripeHash >> (64 - stripeBits)
}

// stripeHash is stripeOf's multiplier (odd, found by search).
const stripeHash = 0xac921303ebf09a8b

// permitsPerSlab is how many Permits one allocation holds: 21 of 64 bytes
// and the slab's 16 make 1360 of the allocator's 1408-byte size class, 67
// bytes a Permit (19 would fill the 1280-byte class, at 67.4). A Permit
// still referenced keeps its whole slab alive, so the memory held is at
// most that many times what the live Permits need, and never more than
// the slabs of permitsPerSlab admissions each, one for each stripe.
const permitsPerSlab = 21

// A permitSlab is Permits allocated together and handed out once each:
// admission allocates once per permitsPerSlab calls. A Permit is never
// reused, so a late or second Done can only ever reach its own call.
//
// The slabs also count admissions, with no counter of their own: a slab
// knows how many its stripe admitted before it (base) and how many it
// handed out (next, at most permitsPerSlab of which are real), so a
// stripe's current slab says how many the stripe has admitted.
type permitSlab struct {
	next    atomic.Int32
	base    int64 // admissions counted by the stripe's slabs before this one; set before it is current
	permits [permitsPerSlab]Permit
}

// newPermit returns a fresh zero Permit from the current slab of the
// caller's stripe, starting a new slab when it is used up. Safe for
// concurrent use: the caller that finds the slab just used up starts the
// next; others that come while it does get a Permit of their own, rather
// than a slab each, counted in unslabbed.
func (g *Gate) newPermit() *Permit {
	st := g.stripe()
	s := st.permits.Load()
	if s != nil {
		i := s.next.Add(1) - 1
		if i < permitsPerSlab {
			return &s.permits[slabSlot(i)]
		}
		if i > permitsPerSlab {
			st.unslabbed.Add(1)
			return new(Permit)
		}
	}
	next := new(permitSlab)
	next.next.Store(1)
	if s != nil {
		// Only the caller that took index permitsPerSlab gets here for s.
		next.base = s.base + permitsPerSlab
		st.permits.Store(next)
	} else if !st.permits.CompareAndSwap(nil, next) {
		st.unslabbed.Add(1) // another first caller's slab won
	}
	return &next.permits[0]
}

// slabSlot spreads a slab's Permits so that consecutive admissions, which
// may run on different cores at once, get Permits far apart in memory: two
// neighbours share a cache line, and Done writes its Permit.
func slabSlot(i int32) int32 { return i%2*((permitsPerSlab+1)/2) + i/2 }

// admittedSoFar is how many calls the gate has admitted: exact when no
// admission is under way, and otherwise off by at most the Permits being
// handed out around a change of slab.
func (g *Gate) admittedSoFar() int64 {
	var n int64
	for i := range g.stripes {
		st := &g.stripes[i]
		n += st.unslabbed.Load()
		if s := st.permits.Load(); s != nil {
			n += s.base + int64(min(s.next.Load(), permitsPerSlab))
		}
	}
	return n
}

// completedSoFar is how many admitted calls are Done.
func (g *Gate) completedSoFar() int64 {
	var n int64
	for i := range g.stripes {
		n += g.stripes[i].completed.Load()
	}
	return n
}
