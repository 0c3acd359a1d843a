package sluice

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
	"github.com/sluicehq/sluice/internal/mock"
)

// bareAPI is a strict API that says nothing of its limits but 429: no
// rate-limit headers, a Retry-After in whole seconds (rounded up, as
// most APIs write it) or none at all. It counts with its own plain code,
// sharing nothing with the limiters it judges.
type bareAPI struct {
	kind    string        // "sliding" or "fixed": limit per window; "bucket": burst limit, refill per window
	limit   int           // calls per window, or the bucket's size
	refill  float64       // bucket: tokens a second
	window  time.Duration // sliding, fixed
	latency time.Duration
	// retryAfter sends Retry-After on a 429; without it the 429 says
	// nothing at all.
	retryAfter bool

	mu        sync.Mutex
	arrivals  []time.Time // sliding: accepted in the window; fixed: this window's
	windowAt  time.Time   // fixed: the current window's start
	tokens    float64     // bucket
	filledAt  time.Time   // bucket
	accepted  int
	throttled int
}

// admit counts a call arriving now; when it is refused it returns how
// long until one would be accepted.
func (a *bareAPI) admit(now time.Time) (bool, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ok, wait := false, time.Duration(0)
	switch a.kind {
	case "sliding":
		for len(a.arrivals) > 0 && !a.arrivals[0].After(now.Add(-a.window)) {
			a.arrivals = a.arrivals[1:]
		}
		if ok = len(a.arrivals) < a.limit; ok {
			a.arrivals = append(a.arrivals, now)
		} else {
			wait = a.arrivals[0].Add(a.window).Sub(now)
		}
	case "fixed":
		if a.windowAt.IsZero() {
			a.windowAt = now
		}
		for !now.Before(a.windowAt.Add(a.window)) {
			a.windowAt = a.windowAt.Add(a.window)
			a.arrivals = a.arrivals[:0]
		}
		if ok = len(a.arrivals) < a.limit; ok {
			a.arrivals = append(a.arrivals, now)
		} else {
			wait = a.windowAt.Add(a.window).Sub(now)
		}
	case "bucket":
		if a.filledAt.IsZero() {
			a.tokens, a.filledAt = float64(a.limit), now
		}
		a.tokens = min(float64(a.limit), a.tokens+now.Sub(a.filledAt).Seconds()*a.refill)
		a.filledAt = now
		if ok = a.tokens >= 1; ok {
			a.tokens--
		} else {
			wait = time.Duration((1 - a.tokens) / a.refill * float64(time.Second))
		}
	default:
		panic("bareAPI: kind " + a.kind)
	}
	if ok {
		a.accepted++
	} else {
		a.throttled++
	}
	return ok, wait
}

func (a *bareAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ok, wait := a.admit(time.Now())
	if !ok {
		if a.retryAfter {
			w.Header().Set("Retry-After", strconv.Itoa(max(int(math.Ceil(wait.Seconds())), 1)))
		}
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":{"type":"rate_limit_error","message":"rate limit exceeded"}}`)
		return
	}
	time.Sleep(a.latency)
	fmt.Fprint(w, `{"ok":true}`)
}

func (a *bareAPI) counts() (accepted, throttled int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.accepted, a.throttled
}

// An API that limits with 429 alone, sending no rate-limit headers, is
// paced at the rate it sustains, learned from the 429s: under 1% of the
// calls are refused and the batch takes within 10% of the physical
// minimum (the design's promise for unknown limits). Before the gate
// learned a pace from 429s, it paused for each Retry-After and burst
// again into the next 429: a third of the calls were refused.
func TestLearnedPaceFrom429sAlone(t *testing.T) {
	const latency = 20 * time.Millisecond
	for _, tc := range []struct {
		name string
		api  *bareAPI
		n    int
		// least is the physical minimum of n calls: the first window's
		// (or the bucket's) calls at once, the rest at the API's rate.
		least time.Duration
	}{
		{"sliding 20/s", &bareAPI{kind: "sliding", limit: 20, window: time.Second, retryAfter: true}, 2000, 99 * time.Second},
		{"fixed 20/s", &bareAPI{kind: "fixed", limit: 20, window: time.Second, retryAfter: true}, 2000, 99 * time.Second},
		{"fixed 100/10s", &bareAPI{kind: "fixed", limit: 100, window: 10 * time.Second, retryAfter: true}, 2000, 190 * time.Second},
		{"bucket 20, 10/s", &bareAPI{kind: "bucket", limit: 20, refill: 10, retryAfter: true}, 2000, 198 * time.Second},
		{"sliding 20/s, no Retry-After", &bareAPI{kind: "sliding", limit: 20, window: time.Second}, 2000, 99 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tc.api.latency = latency
				tr := &Transport{Limits: Limits{Concurrency: 8}, Base: apitest.RoundTripper{Handler: tc.api}}
				took := getAll(t, &http.Client{Transport: tr}, "http://api.test/", tc.n, 64)
				accepted, throttled := tc.api.counts()
				share := float64(throttled) / float64(accepted+throttled)
				ratio := took.Seconds() / tc.least.Seconds()
				t.Logf("%d calls: %d 429s (%.2f%%), took %v, %.3f of the minimum %v; learned %v",
					tc.n, throttled, 100*share, took.Round(time.Millisecond), ratio, tc.least, tr.Gate("api.test").LearnedRate())
				if share >= 0.01 {
					t.Errorf("%.2f%% of the calls were refused (%d of %d), want under 1%%", 100*share, throttled, accepted+throttled)
				}
				if ratio > 1.10 {
					t.Errorf("took %v, %.3f of the minimum %v, want within 10%%", took, ratio, tc.least)
				}
			})
		})
	}
}

// What a user trying `sluice mock --ratelimit-headers=false` sees: the
// mock's Anthropic-style API, its request limit a bucket (20 a second,
// refilled continuously), saying it only by 429 and Retry-After, is paced
// at what it sustains through a Transport, as an API that sends headers
// is paced at what they say.
func TestLearnedPaceFrom429sOfTheMockWithoutHeaders(t *testing.T) {
	const n, rate = 2000, 20
	synctest.Test(t, func(t *testing.T) {
		api, err := mock.New(mock.Config{Style: mock.Anthropic, Requests: mock.Limit{N: rate, Per: time.Second},
			Latency: mock.FixedLatency(20 * time.Millisecond), NoRateLimitHeaders: true, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer api.Close()
		tr := &Transport{Base: apitest.RoundTripper{Handler: api}}
		client := &http.Client{Transport: tr}
		took := callAll(t, n, 64, func() (*http.Response, error) {
			return client.Post("http://api.test/v1/messages", "application/json",
				strings.NewReader(`{"model":"claude-x","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`))
		})
		st := api.Stats()
		throttled := st.Requests - st.Accepted
		least := time.Duration(n-rate) * time.Second / rate
		t.Logf("%d calls: %d 429s (%.2f%%), took %v, %.3f of the minimum %v; learned %v",
			n, throttled, 100*float64(throttled)/float64(st.Requests), took.Round(time.Millisecond), took.Seconds()/least.Seconds(), least, tr.Gate("api.test").LearnedRate())
		if throttled*100 >= st.Requests {
			t.Errorf("%d of %d calls refused, want under 1%%", throttled, st.Requests)
		}
		if took > least*110/100 {
			t.Errorf("took %v, want within 10%% of %v", took, least)
		}
	})
}

// At hundreds of calls a second the first cycle decides the batch: a
// burst of 200 calls fills a second's sliding window in half a second,
// and the 429 says to come back in a second (rounded up). Read over the
// cycle, that first burst was 133 calls a second, and the probe, a step
// under 1% a cycle, had not made up the third by the end of the 10s
// batch: 1.46 of the minimum. The whole-second Retry-After says the
// window (wholeWindow): the batch is paced a margin under 200 a second
// from the first cool-down's end. The API is bench/cmd/feedback's
// learned-429 (a strict sliding window of 200/s, 10 in flight, 20ms of
// latency, no rate-limit headers), the Transport given nothing; the
// minimum is the bench's, n/rate.
func TestLearnedPaceFrom429sAtHundredsASecond(t *testing.T) {
	const n, rate = 2000, 200
	synctest.Test(t, func(t *testing.T) {
		api := &apitest.Server{Limit: rate, Window: time.Second, Concurrency: 10, Latency: 20 * time.Millisecond, RetryAfter: true}
		tr := &Transport{Base: apitest.RoundTripper{Handler: api}}
		took := getAll(t, &http.Client{Transport: tr}, "http://api.test/", n, 64)
		c := api.Counts()
		least := time.Duration(n) * time.Second / rate
		share := float64(c.Throttled()) / float64(c.Requests)
		ratio := took.Seconds() / least.Seconds()
		t.Logf("%d calls: %d 429s (%.2f%%), took %v, %.3f of the minimum %v; learned %v",
			n, c.Throttled(), 100*share, took.Round(time.Millisecond), ratio, least, tr.Gate("api.test").LearnedRate())
		if share >= 0.01 {
			t.Errorf("%.2f%% of the calls were refused (%d of %d), want under 1%%", 100*share, c.Throttled(), c.Requests)
		}
		if ratio > 1.10 {
			t.Errorf("took %v, %.3f of the minimum %v, want within 10%%", took, ratio, least)
		}
	})
}

// An API that limits both its rate (20 in any second) and its calls in
// flight (5), saying either only by 429 and Retry-After, the second with
// a body that names concurrency, is paced at its rate and kept under its
// concurrency: a 429 about concurrency lowers the adaptive ceiling and
// says nothing of the rate. An outside tester's `sluice proxy` against
// such an API learned 9.5 to 11.4 a second, half its rate, and took 3.2
// times the minimum: the first burst's concurrency 429s were read as
// evidence of the rate.
func TestLearnedPaceFrom429sBesideAConcurrencyCap(t *testing.T) {
	const n, rate = 2000, 20
	for _, tc := range []struct {
		name   string
		limits Limits
	}{
		{"nothing given", Limits{}},
		{"concurrency 64", Limits{Concurrency: 64}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				api := &apitest.Server{Limit: rate, Window: time.Second, Concurrency: 5, Latency: 200 * time.Millisecond, RetryAfter: true}
				tr := &Transport{Limits: tc.limits, Base: apitest.RoundTripper{Handler: api}}
				took := getAll(t, &http.Client{Transport: tr}, "http://api.test/", n, 64)
				c := api.Counts()
				// The first window's calls at once, the rest at the rate;
				// 5 in flight for 200ms each allow 25 a second, more.
				least := time.Duration(n-rate) * time.Second / rate
				share := float64(c.Throttled()) / float64(c.Requests)
				ratio := took.Seconds() / least.Seconds()
				t.Logf("%d calls: %d 429s (%.2f%%: %d rate, %d concurrency), took %v, %.3f of the minimum %v; learned %v, peak in flight %d",
					n, c.Throttled(), 100*share, c.OverRate, c.OverConcurrent, took.Round(time.Millisecond), ratio, least, tr.Gate("api.test").LearnedRate(), c.PeakInFlight)
				if share >= 0.01 {
					t.Errorf("%.2f%% of the calls were refused (%d of %d), want under 1%%", 100*share, c.Throttled(), c.Requests)
				}
				if ratio > 1.10 {
					t.Errorf("took %v, %.3f of the minimum %v, want within 10%%", took, ratio, least)
				}
			})
		})
	}
}
