package bench

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

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
// refunds part of the token estimate.
func BenchmarkGate(b *testing.B) {
	cost := sluice.Cost{InputTokens: 10, OutputTokens: 10}
	done := sluice.Outcome{Usage: &sluice.Usage{InputTokens: 10, OutputTokens: 8}}
	newGate := func() *sluice.Gate {
		return sluice.NewGate(
			sluice.NewSemaphore(1<<20),
			sluice.NewRateLimiter(sluice.PerSecond(fast), fast),
			sluice.NewTokenBudget(sluice.PerSecond(fast), sluice.AllTokens),
		)
	}
	ctx := context.Background()

	b.Run("three-limits", func(b *testing.B) {
		g := newGate()
		b.ReportAllocs()
		for b.Loop() {
			p, err := g.Acquire(ctx, cost)
			if err != nil {
				b.Fatal(err)
			}
			p.Done(done)
		}
	})
	b.Run("three-limits-parallel", func(b *testing.B) {
		g := newGate()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, err := g.Acquire(ctx, cost)
				if err != nil {
					b.Error(err)
					return
				}
				p.Done(done)
			}
		})
	})
	// The naive composition of the x/ packages, for scale. It is not
	// equivalent: a refusal by one limit does not give back what the
	// others took, and tokens are never settled with real usage.
	b.Run("xsync-semaphore+xrate", func(b *testing.B) {
		sem := semaphore.NewWeighted(1 << 20)
		requests, tokens := newXrateFast(), newXrateFast()
		n := cost.InputTokens + cost.OutputTokens
		b.ReportAllocs()
		for b.Loop() {
			if err := sem.Acquire(ctx, 1); err != nil {
				b.Fatal(err)
			}
			if !requests.Allow() || !tokens.AllowN(time.Now(), n) {
				b.Fatal("refused")
			}
			sem.Release(1)
		}
	})
}
