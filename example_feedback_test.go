package sluice_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
)

func ExampleTransport() {
	// A stand-in API that throttles the first call.
	var calls atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After-Ms", "50")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`)
			return
		}
		io.WriteString(w, "hello")
	}))
	defer api.Close()

	tr := &sluice.Transport{Limits: sluice.Limits{Concurrency: 4, Rate: sluice.PerSecond(100)}}
	client := &http.Client{Transport: tr}
	resp, err := client.Get(api.URL)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	s := tr.Gate(strings.TrimPrefix(api.URL, "http://")).Stats()
	fmt.Println(resp.StatusCode, string(body))
	fmt.Println("attempts:", s.Admitted, "throttled:", s.Throttled, "pauses:", s.Pauses)
	// Output:
	// 200 hello
	// attempts: 2 throttled: 1 pauses: 1
}

func ExamplePool() {
	pool := &sluice.Pool[int, int]{
		Gate:    sluice.NewGate(sluice.NewRateLimiter(sluice.PerSecond(1000), 1)),
		Workers: 4,
		Ordered: true,
		Retry:   sluice.RetryPolicy{MaxAttempts: 2},
	}
	square := func(ctx context.Context, n int) (int, error) {
		if n == 3 {
			return 0, sluice.Permanent(errors.New("three is not welcome"))
		}
		return n * n, nil
	}
	for r := range pool.Run(context.Background(), slices.Values([]int{1, 2, 3, 4}), square) {
		if r.Err != nil {
			fmt.Println(r.Index, r.Class, r.Err)
			continue
		}
		fmt.Println(r.Index, r.Value)
	}
	// Output:
	// 0 1
	// 1 4
	// 2 fatal three is not welcome
	// 3 16
}

func ExampleClassify() {
	body := []byte(`{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}`)
	fmt.Println(sluice.Classify(429, nil, body, nil))
	fmt.Println(sluice.Classify(429, nil, []byte(`{"type":"error","error":{"type":"rate_limit_error","message":"x"}}`), nil))
	fmt.Println(sluice.Classify(529, nil, nil, nil), sluice.Classify(404, nil, nil, nil))
	// Output:
	// quota-exhausted
	// throttled
	// overloaded fatal
}

func ExampleParseRateLimitHeaders() {
	now := time.Date(2026, 11, 22, 21, 0, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("anthropic-ratelimit-requests-limit", "50")
	h.Set("anthropic-ratelimit-requests-remaining", "49")
	h.Set("anthropic-ratelimit-requests-reset", "2026-11-22T21:00:30Z")
	h.Set("retry-after", "12")
	info := sluice.ParseRateLimitHeaders(h, now)
	fmt.Println(info.Requests.Limit, info.Requests.Remaining, info.Requests.Reset, info.Requests.Window)
	fmt.Println(info.RetryAfter, info.HasRetryAfter)
	// Output:
	// 50 49 30s 1m0s
	// 12s true
}

func ExampleAdaptiveLimit() {
	a := sluice.NewAdaptiveLimit(1, 16) // starts at 8
	g := sluice.NewGate(a)
	p, _ := g.Acquire(context.Background(), sluice.Cost{})
	p.Done(sluice.Outcome{Class: sluice.ClassThrottled}) // the API said 429
	fmt.Println(a.Ceiling())
	// Output: 4
}

func ExampleRetryPolicy_Do() {
	gate := sluice.NewGate()
	policy := sluice.RetryPolicy{MaxAttempts: 5, Backoff: sluice.Backoff{Base: time.Millisecond}}
	tries := 0
	o, attempts, err := policy.Do(context.Background(), gate, sluice.Cost{}, func(ctx context.Context) (sluice.Outcome, error) {
		tries++
		if tries < 3 {
			return sluice.Outcome{Class: sluice.ClassOverloaded}, nil
		}
		return sluice.Outcome{}, nil
	})
	fmt.Println(o.Class, attempts, err)
	// Output: ok 3 <nil>
}
