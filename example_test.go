package sluice_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
)

func ExampleParseRate() {
	r, err := sluice.ParseRate("3000/m")
	if err != nil {
		panic(err)
	}
	fmt.Println(r, r.Interval(), r.PerSec())

	_, err = sluice.ParseRate("50/fortnight")
	fmt.Println(err)
	// Output:
	// 3000/m 20ms 50
	// sluice: rate "50/fortnight": unknown period unit "fortnight" (want ms, s, m, h, d or a duration like 10s): bad rate
}

func ExampleRateLimiter() {
	// Two per second, evenly spaced: the second call must wait 500ms.
	l := sluice.NewRateLimiter(sluice.PerSecond(2), 1)
	fmt.Println(l.Allow(), l.Allow())

	r := l.Reserve(1)
	fmt.Println(r.Delay() > 0)
	r.Cancel() // not going to use it after all
	// Output:
	// true false
	// true
}

func ExampleRateLimiter_Wait() {
	l := sluice.NewRateLimiter(sluice.PerSecond(1000), 1)
	ctx := context.Background()
	for i := range 3 {
		if err := l.Wait(ctx, 1); err != nil {
			panic(err)
		}
		fmt.Println("call", i)
	}
	// Output:
	// call 0
	// call 1
	// call 2
}

func ExampleSemaphore() {
	s := sluice.NewSemaphore(2)
	ctx := context.Background()
	if err := s.Acquire(ctx, 2); err != nil {
		panic(err)
	}
	fmt.Println(s.TryAcquire(1)) // full

	// An urgent caller goes ahead of everyone waiting at lower priority.
	ctx, cancel := context.WithTimeout(sluice.WithPriority(ctx, 10), 10*time.Millisecond)
	defer cancel()
	fmt.Println(s.Acquire(ctx, 1)) // still full: gives up, leaving no trace

	s.Release(2)
	fmt.Println(s.TryAcquire(1), s.Held())
	// Output:
	// false
	// context deadline exceeded
	// true 1
}

func ExampleSlidingWindow() {
	// At most 3 in any 10 seconds: all 3 may go at once, the 4th waits.
	w := sluice.NewSlidingWindow(sluice.Rate{N: 3, Per: 10 * time.Second})
	fmt.Println(w.AllowN(3), w.Allow(), w.Count())
	// Output: true false 3
}

func ExampleTokenBudget() {
	b := sluice.NewTokenBudget(sluice.PerMinute(10000), sluice.AllTokens)
	// Charge an estimate before the call: prompt plus max_tokens.
	fmt.Println(b.AllowN(8000))
	fmt.Println(b.AllowN(4000)) // would exceed the minute's budget
	// The call used 2500 tokens in all: 5500 come back.
	b.Settle(8000, 2500)
	fmt.Println(b.AllowN(4000))
	// Output:
	// true
	// false
	// true
}

func ExampleGate() {
	gate := sluice.NewGate(
		sluice.NewSemaphore(8),                                              // 8 calls in flight
		sluice.NewRateLimiter(sluice.PerMinute(3000), 1),                    // 50 starts a second, evenly
		sluice.NewTokenBudget(sluice.PerMinute(400000), sluice.InputTokens), // input tokens
	)
	ctx := context.Background()
	permit, err := gate.Acquire(ctx, sluice.Cost{InputTokens: 1200, OutputTokens: 512})
	if err != nil {
		panic(err)
	}
	// ... make the call ...
	permit.Done(sluice.Outcome{Usage: &sluice.Usage{InputTokens: 1200, OutputTokens: 87}})

	// The API said 429, retry in 20s: every caller of this gate waits.
	gate.PauseUntil(time.Now().Add(20 * time.Second))
	s := gate.Stats()
	fmt.Println(s.Admitted, s.Completed, !gate.PausedUntil().IsZero())
	// Output: 1 1 true
}
