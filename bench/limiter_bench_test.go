package bench

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/sluicehq/sluice"
	"go.uber.org/ratelimit"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// fast is a rate, in units per second, and a burst that no benchmark can
// exhaust: a unit costs 1 ns of the bucket while a call takes far longer, so
// every call is admitted and each library runs its admitting path.
const fast = 1e9

// Sluice and x/time/rate configured alike: always admitting, and always
// refusing (1 per hour, burst 1, bucket already drained).
func newSluiceFast() *sluice.RateLimiter { return sluice.NewRateLimiter(sluice.PerSecond(fast), fast) }
func newXrateFast() *rate.Limiter        { return rate.NewLimiter(rate.Limit(fast), fast) }

func newSluiceEmpty(b *testing.B) *sluice.RateLimiter {
	l := sluice.NewRateLimiter(sluice.Rate{N: 1, Per: time.Hour}, 1)
	if !l.Allow() {
		b.Fatal("sluice: first Allow refused")
	}
	return l
}

func newXrateEmpty(b *testing.B) *rate.Limiter {
	l := rate.NewLimiter(rate.Every(time.Hour), 1)
	if !l.Allow() {
		b.Fatal("xrate: first Allow refused")
	}
	return l
}

// allowLoop calls allow b.N times on one goroutine and fails if any answer
// differs from want.
func allowLoop(b *testing.B, allow func() bool, want bool) {
	b.ReportAllocs()
	for b.Loop() {
		if allow() != want {
			b.Fatalf("Allow() = %v, want %v", !want, want)
		}
	}
}

// allowParallel is allowLoop on GOMAXPROCS goroutines sharing one limiter.
func allowParallel(b *testing.B, allow func() bool, want bool) {
	b.ReportAllocs()
	var wrong atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if allow() != want {
				wrong.Add(1)
			}
		}
	})
	if n := wrong.Load(); n > 0 {
		b.Fatalf("%d calls of Allow() = %v, want %v", n, !want, want)
	}
}

func BenchmarkAllow(b *testing.B) {
	b.Run("sluice", func(b *testing.B) { allowLoop(b, newSluiceFast().Allow, true) })
	b.Run("xrate", func(b *testing.B) { allowLoop(b, newXrateFast().Allow, true) })
}

func BenchmarkAllowRefused(b *testing.B) {
	b.Run("sluice", func(b *testing.B) { allowLoop(b, newSluiceEmpty(b).Allow, false) })
	b.Run("xrate", func(b *testing.B) { allowLoop(b, newXrateEmpty(b).Allow, false) })
}

func BenchmarkAllowParallel(b *testing.B) {
	b.Run("sluice", func(b *testing.B) { allowParallel(b, newSluiceFast().Allow, true) })
	b.Run("xrate", func(b *testing.B) { allowParallel(b, newXrateFast().Allow, true) })
}

// BenchmarkTake is go.uber.org/ratelimit, which has no Allow: Take blocks
// until the next slot. At this rate it never sleeps, so this is its cost
// of admitting, but it is not the same operation as Allow.
func BenchmarkTake(b *testing.B) {
	b.Run("uber", func(b *testing.B) {
		l := ratelimit.New(fast, ratelimit.WithoutSlack)
		b.ReportAllocs()
		for b.Loop() {
			l.Take()
		}
	})
}

// BenchmarkClock is the floor under any Allow: one clock read, and one
// clock read plus the compare-and-swap a lock-free limiter needs.
func BenchmarkClock(b *testing.B) {
	b.Run("now", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			time.Now()
		}
	})
	b.Run("since", func(b *testing.B) {
		epoch := time.Now()
		b.ReportAllocs()
		for b.Loop() {
			time.Since(epoch)
		}
	})
	b.Run("since+cas", func(b *testing.B) {
		epoch := time.Now()
		var tat atomic.Int64
		b.ReportAllocs()
		for b.Loop() {
			now := int64(time.Since(epoch))
			old := tat.Load()
			tat.CompareAndSwap(old, max(old, now)+1)
		}
	})
}

// BenchmarkGate is one admission of a typical LLM call through three
// limits that always admit: concurrency, requests per second and tokens
// per second. An op is Acquire plus Done with the real usage, which
// refunds part of the token estimate. Its siblings are what a program
// would write without sluice, for scale:
//
//   - naive-wait: x/sync's semaphore, then Wait on one x/time/rate limiter
//     for requests and WaitN on a second for tokens, then Release: the
//     blocking composition, the one the Gate replaces;
//   - naive-allow: the same with Allow and AllowN, which never waits;
//   - failsafe: failsafe-go's permits, a bulkhead and two bursty rate
//     limiters (AcquirePermit, AcquirePermits, ReleasePermit).
//
// None of them is equivalent: a refusal by one limit does not give back
// what the others took, tokens are never settled with real usage, and
// only the Gate learns from responses.
func BenchmarkGate(b *testing.B) { gateBenchmarks(b, false) }

// BenchmarkGateParallel is BenchmarkGate on GOMAXPROCS goroutines sharing
// the limits; its ns/op is wall time over all ops together, so a path
// that scales has a smaller figure here than in BenchmarkGate.
func BenchmarkGateParallel(b *testing.B) { gateBenchmarks(b, true) }

func gateBenchmarks(b *testing.B, parallel bool) {
	cost := sluice.Cost{InputTokens: 10, OutputTokens: 10}
	done := sluice.Outcome{Usage: &sluice.Usage{InputTokens: 10, OutputTokens: 8}}
	ctx := context.Background()
	n := cost.InputTokens + cost.OutputTokens

	b.Run("sluice", func(b *testing.B) {
		g := sluice.NewGate(
			sluice.NewSemaphore(1<<20),
			sluice.NewRateLimiter(sluice.PerSecond(fast), fast),
			sluice.NewTokenBudget(sluice.PerSecond(fast), sluice.AllTokens),
		)
		loop(b, parallel, func() error {
			p, err := g.Acquire(ctx, cost)
			if err != nil {
				return err
			}
			p.Done(done)
			return nil
		})
	})
	b.Run("naive-wait", func(b *testing.B) {
		sem := semaphore.NewWeighted(1 << 20)
		requests, tokens := newXrateFast(), newXrateFast()
		loop(b, parallel, func() error {
			if err := sem.Acquire(ctx, 1); err != nil {
				return err
			}
			defer sem.Release(1)
			if err := requests.Wait(ctx); err != nil {
				return err
			}
			return tokens.WaitN(ctx, n)
		})
	})
	b.Run("naive-allow", func(b *testing.B) {
		sem := semaphore.NewWeighted(1 << 20)
		requests, tokens := newXrateFast(), newXrateFast()
		loop(b, parallel, func() error {
			if err := sem.Acquire(ctx, 1); err != nil {
				return err
			}
			defer sem.Release(1)
			if !requests.Allow() || !tokens.AllowN(time.Now(), n) {
				return errRefused
			}
			return nil
		})
	})
	b.Run("failsafe", func(b *testing.B) {
		bulk := bulkhead.New[any](1 << 20)
		requests := ratelimiter.NewBursty[any](fast, time.Second)
		tokens := ratelimiter.NewBursty[any](fast, time.Second)
		loop(b, parallel, func() error {
			if err := bulk.AcquirePermit(ctx); err != nil {
				return err
			}
			defer bulk.ReleasePermit()
			if err := requests.AcquirePermit(ctx); err != nil {
				return err
			}
			return tokens.AcquirePermits(ctx, uint(n))
		})
	})
	// The floor under any admission of a semaphore, a rate and a token
	// budget that settles usage: five atomic writes to five cache lines
	// (slot taken and released, rate, tokens taken and refunded), and
	// nothing else. In parallel each write waits for the other core's copy
	// of its line, so sluice/lines5 says how much of GateParallel is the
	// machine's price for sharing limits between cores, and lines5's own
	// parallel ÷ serial is the best any such gate could do here.
	b.Run("lines5", func(b *testing.B) {
		var lines [5]paddedCounter
		loop(b, parallel, func() error {
			for i := range lines {
				lines[i].n.Add(1)
			}
			return nil
		})
	})
	// The same five writes to one cache line: what a gate whose limits
	// keep their written words together would pay for sharing them.
	b.Run("lines1", func(b *testing.B) {
		var line sharedLine
		loop(b, parallel, func() error {
			for i := range line.n {
				line.n[i].Add(1)
			}
			return nil
		})
	})
}

// sharedLine is five counters on one cache line of their own.
type sharedLine struct {
	_ [64]byte
	n [5]atomic.Int64
	_ [24]byte
}

// paddedCounter is a counter alone on its cache line.
type paddedCounter struct {
	n atomic.Int64
	_ [56]byte
}

var errRefused = errors.New("refused")

// loop runs op b.N times, on one goroutine or on GOMAXPROCS, and fails the
// benchmark on the first error.
func loop(b *testing.B, parallel bool, op func() error) {
	b.ReportAllocs()
	if !parallel {
		for b.Loop() {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	var failed atomic.Pointer[error]
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				e := err // not &err: that would allocate on every op
				failed.Store(&e)
				return
			}
		}
	})
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
}
