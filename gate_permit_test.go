package sluice

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"
)

// Permits come from slabs (newPermit): every admission must still get a
// Permit of its own, however many callers admit at once.
func TestPermitsAreDistinctUnderConcurrentAdmission(t *testing.T) {
	g := NewGate(NewSemaphore(1 << 20))
	const workers, each = 8, 5 * permitsPerSlab
	var mu sync.Mutex
	seen := make(map[*Permit]bool)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				p, err := g.Acquire(context.Background(), Cost{})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[p] {
					t.Error("a Permit was handed out twice")
				}
				seen[p] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != workers*each {
		t.Fatalf("%d distinct permits, want %d", len(seen), workers*each)
	}
	if got := g.Stats().InFlight; got != workers*each {
		t.Fatalf("InFlight %d, want %d", got, workers*each)
	}
}

// A Permit is never reused: a second Done long after the first, once its
// slab's neighbours are admitted and held, releases nothing of theirs.
func TestPermitDoneTwiceAfterItsSlabIsUsedUpReleasesNothing(t *testing.T) {
	sem := NewSemaphore(1 << 20)
	g := NewGate(sem)
	first, err := g.Acquire(context.Background(), Cost{})
	if err != nil {
		t.Fatal(err)
	}
	first.Done(Outcome{})
	const held = 3 * permitsPerSlab
	for range held {
		if _, err := g.Acquire(context.Background(), Cost{}); err != nil {
			t.Fatal(err)
		}
	}
	first.Done(Outcome{})
	if got := sem.Held(); got != held {
		t.Fatalf("semaphore holds %d, want %d", got, held)
	}
	if got := g.Stats().InFlight; got != held {
		t.Fatalf("InFlight %d, want %d", got, held)
	}
}

// Until a gate learns from headers, admissions skip its learned limits
// (Gate.from). A call admitted before the first lesson and done after it
// must leave the learned token budget as it found it: nothing charged,
// nothing refunded, rested; and calls admitted after it are charged.
func TestACallAdmittedBeforeTheGateLearnsLeavesTheLearnedBudgetsUntouched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate()
		before, err := g.Acquire(t.Context(), Cost{InputTokens: 500})
		if err != nil {
			t.Fatal(err)
		}
		teacher, _ := g.Acquire(t.Context(), Cost{})
		teacher.Done(Outcome{RateLimit: &RateLimitInfo{
			Requests: unsaidQuota(), Tokens: unsaidQuota(), OutputTokens: unsaidQuota(),
			InputTokens: Quota{Limit: 60000, Remaining: 60000, Window: time.Minute},
		}})
		budget := &g.learned.tokens[InputTokens]
		if budget.Rate().IsZero() {
			t.Fatal("the gate learned no input token budget")
		}
		tat := budget.bucket.tat.Load()
		before.Done(Outcome{Usage: &Usage{InputTokens: 100}})
		if got := budget.charged.Load(); got != 0 {
			t.Fatalf("learned budget's charge %d after a call it never charged, want 0", got)
		}
		if got := budget.bucket.tat.Load(); got != tat {
			t.Fatalf("learned budget's timeline moved %v for a call it never charged", time.Duration(got-tat))
		}
		after, _ := g.Acquire(t.Context(), Cost{InputTokens: 500})
		if got := budget.charged.Load(); got != 500 {
			t.Fatalf("learned budget's charge %d for a call admitted after learning, want 500", got)
		}
		after.Done(Outcome{})
		time.Sleep(time.Minute)
		if !budget.Rested() {
			t.Fatal("learned budget not rested a minute after its only call")
		}
	})
}

// The slabs count admissions (admittedSoFar): however the callers race,
// on a fresh gate's first slab and at every change of slab, GateStats
// counts each admission once, and InFlight is exact once they are done.
func TestGateStatsCountEveryAdmissionOnceUnderConcurrency(t *testing.T) {
	for round := range 50 {
		g := NewGate(NewSemaphore(1 << 20))
		const workers, each = 6, 3*permitsPerSlab + 5
		start := make(chan struct{})
		var wg sync.WaitGroup
		var kept sync.Map // one Permit per worker, held to the end
		for w := range workers {
			wg.Go(func() {
				<-start
				for i := range each {
					p, err := g.Acquire(context.Background(), Cost{})
					if err != nil {
						t.Error(err)
						return
					}
					if i == 0 {
						kept.Store(w, p)
						continue
					}
					p.Done(Outcome{})
				}
			})
		}
		close(start)
		wg.Wait()
		s := g.Stats()
		if s.Admitted != workers*each || s.Completed != workers*(each-1) || s.InFlight != workers {
			t.Fatalf("round %d: admitted %d, completed %d, in flight %d; want %d, %d, %d",
				round, s.Admitted, s.Completed, s.InFlight, workers*each, workers*(each-1), workers)
		}
		kept.Range(func(_, p any) bool { p.(*Permit).Done(Outcome{}); return true })
		if s := g.Stats(); s.InFlight != 0 || s.Admitted != s.Completed {
			t.Fatalf("round %d: in flight %d after every Done", round, s.InFlight)
		}
	}
}

// slabSlot spreads a slab's Permits; it must still hand out each of them
// exactly once.
func TestSlabSlotIsAPermutation(t *testing.T) {
	seen := make(map[int32]bool)
	for i := range int32(permitsPerSlab) {
		if at := slabSlot(i); at < 0 || at >= permitsPerSlab || seen[at] {
			t.Fatalf("slabSlot(%d) = %d: outside the slab or handed out twice", i, at)
		} else {
			seen[at] = true
		}
	}
}

// Each stripe is one cache line (the point of striping), so the stripes
// must start on a line and be a line each. A Gate is allocated in a size
// class that is a multiple of 64 bytes, so its offsets are the lines'.
func TestGateStripesAreACacheLineEach(t *testing.T) {
	var g Gate
	if off, size := unsafe.Offsetof(g.stripes), unsafe.Sizeof(gateStripe{}); off%64 != 0 || size != 64 {
		t.Fatalf("stripes at offset %d, %d bytes each; want a multiple of 64, and 64 (pad the fields before them)", off, size)
	}
}

// Goroutines running at once must mostly write different stripes, or the
// striping buys nothing. Goroutines started one after another have stacks
// in neighbouring 2 KiB blocks, which must get different stripes, wherever
// they are. (Hashing 8 KiB blocks, before the fix, put four neighbours in
// one stripe.)
func TestNeighbouringStacksGetDifferentStripes(t *testing.T) {
	for _, base := range []uintptr{0, 0xc000000000, 0x2eee377bd000, 1 << 40} {
		for k := range uintptr(64) {
			at := base + k<<11 + 0x75f // anywhere in the block
			if a, b := stripeOf(at), stripeOf(at+1<<11); a == b {
				t.Fatalf("stacks at %#x and %#x share stripe %d", at, at+1<<11, a)
			}
		}
	}
}

// Stacks of one size are carved from one span, so two goroutines started
// together often have stacks a power of two of 2 KiB blocks apart (4, 8,
// 16 KiB): those must get different stripes, wherever they are. (Fibonacci
// hashing, before the fix, put stacks 16 KiB apart in one stripe more
// than half the time.)
func TestStacksAPowerOfTwoApartGetDifferentStripes(t *testing.T) {
	for _, base := range []uintptr{0, 0xc000000000, 0x2eee377bd000, 0x526b68193 << 11, 1 << 40} {
		for k := range uintptr(256) {
			at := base + k<<11 + 0x75f
			for shift := range 7 {
				apart := uintptr(1) << (11 + shift)
				if a, b := stripeOf(at), stripeOf(at+apart); a == b {
					t.Fatalf("stacks at %#x and %#x (%d KiB apart) share stripe %d", at, at+apart, apart>>10, a)
				}
			}
		}
	}
}
