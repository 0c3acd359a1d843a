package sluice

import (
	"math"
	"math/rand/v2"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

func TestGateLearnsAPaceFromALimitPerWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate()
		p, _ := g.Acquire(t.Context(), Cost{})
		p.Done(Outcome{RateLimit: &RateLimitInfo{Requests: Quota{Limit: 600, Remaining: 599, Reset: time.Second, Window: time.Minute}}})
		if got, want := g.LearnedRate(), slicedSafe(apiSafe(Rate{N: 600, Per: time.Minute})); got != want {
			t.Fatalf("learned %v, want %v", got, want)
		}
		// Paced: the call already made counts, then one every ~101ms.
		begin := time.Now()
		for range 3 {
			q, _ := g.Acquire(t.Context(), Cost{})
			q.Done(Outcome{})
		}
		iv := slicedSafe(apiSafe(Rate{N: 600, Per: time.Minute})).Interval()
		if got, want := time.Since(begin), 3*iv; got != want {
			t.Errorf("three calls took %v, want %v", got, want)
		}
	})
}

func TestGateLearnsFromRemainingAndReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate()
		p, _ := g.Acquire(t.Context(), Cost{})
		q, _ := g.Acquire(t.Context(), Cost{}) // in flight: counts against what remains
		p.Done(Outcome{RateLimit: &RateLimitInfo{Requests: Quota{Remaining: 11, Reset: 10 * time.Second}}})
		if got, want := g.LearnedRate(), apiSafe(Rate{N: 10, Per: 10 * time.Second}); got != want {
			t.Fatalf("learned %v, want %v (11 left, 1 in flight, 10s)", got, want)
		}
		q.Done(Outcome{})
	})
}

func TestGateLearnedLimitNeverLoosensTheUsers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(NewRateLimiter(PerSecond(1), 1))
		p, _ := g.Acquire(t.Context(), Cost{})
		p.Done(Outcome{RateLimit: &RateLimitInfo{Requests: Quota{Limit: 1000, Remaining: 999, Window: time.Second}}})
		begin := time.Now()
		q, _ := g.Acquire(t.Context(), Cost{})
		q.Done(Outcome{})
		if got := time.Since(begin); got != time.Second {
			t.Errorf("waited %v; the user's 1/s must hold against a learned 1000/s", got)
		}
	})
}

func TestGateLearnsTokenBudgets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate()
		p, _ := g.Acquire(t.Context(), Cost{})
		p.Done(Outcome{RateLimit: &RateLimitInfo{
			InputTokens:  Quota{Limit: 60000, Remaining: 60000, Window: time.Minute},
			OutputTokens: Quota{Limit: 6000, Remaining: 6000, Window: time.Minute},
		}})
		if got := g.learned.tokens[OutputTokens].Rate(); got != apiSafe(PerMinute(6000)) {
			t.Fatalf("learned output tokens %v", got)
		}
		// The whole learned output budget at once, then a wait.
		q, _ := g.Acquire(t.Context(), Cost{OutputTokens: 6000})
		q.Done(Outcome{})
		begin := time.Now()
		r, _ := g.Acquire(t.Context(), Cost{OutputTokens: 100})
		r.Done(Outcome{})
		if time.Since(begin) < time.Second {
			t.Errorf("waited %v for 100 output tokens after spending the minute's 6000", time.Since(begin))
		}
	})
}

func TestGatePausesAsTheAPIAsks(t *testing.T) {
	tests := []struct {
		name string
		o    Outcome
		want time.Duration
	}{
		{"429 with retry-after", Outcome{Class: ClassThrottled, RateLimit: &RateLimitInfo{RetryAfter: 7 * time.Second, HasRetryAfter: true}}, 7 * time.Second},
		{"529 with retry-after", Outcome{Class: ClassOverloaded, RateLimit: &RateLimitInfo{RetryAfter: 2 * time.Second, HasRetryAfter: true}}, 2 * time.Second},
		{"capped", Outcome{Class: ClassThrottled, RateLimit: &RateLimitInfo{RetryAfter: time.Hour, HasRetryAfter: true}}, 30 * time.Second},
		{"429 with an exhausted quota", Outcome{Class: ClassThrottled, RateLimit: &RateLimitInfo{Tokens: Quota{Remaining: 0, Reset: 4 * time.Second}}}, 4 * time.Second},
		{"ok leaving nothing", Outcome{RateLimit: &RateLimitInfo{Requests: Quota{Remaining: 0, Reset: 3 * time.Second}}}, 3 * time.Second},
		{"ok at full use of a known window", Outcome{RateLimit: &RateLimitInfo{Requests: Quota{Limit: 5, Remaining: 0, Reset: 3 * time.Second, Window: time.Minute}}}, 0},
		{"retry-after on a success is not a pause", Outcome{RateLimit: &RateLimitInfo{RetryAfter: 5 * time.Second, HasRetryAfter: true, Requests: Quota{Remaining: -1}}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := Limits{MaxPause: 30 * time.Second}.NewGate()
				p, _ := g.Acquire(t.Context(), Cost{})
				p.Done(tt.o)
				got := time.Duration(0)
				if until := g.PausedUntil(); !until.IsZero() {
					got = time.Until(until)
				}
				if got != tt.want {
					t.Errorf("paused for %v, want %v", got, tt.want)
				}
			})
		})
	}
}

func TestAPISafeMargin(t *testing.T) {
	tests := []struct{ in, want Rate }{
		// The same 6ms for every period: the jitter and lag are absolute.
		{PerSecond(200), Rate{N: 200, Per: 1006 * time.Millisecond}},
		{PerMinute(3000), Rate{N: 3000, Per: time.Minute + 6*time.Millisecond}},
		{Rate{N: 500, Per: 700 * time.Millisecond}, Rate{N: 500, Per: 706 * time.Millisecond}},
		{Rate{N: 5, Per: 100 * time.Millisecond}, Rate{N: 5, Per: 106 * time.Millisecond}},
		{Rate{}, Rate{}},
	}
	for _, tt := range tests {
		if got := apiSafe(tt.in); got != tt.want {
			t.Errorf("apiSafe(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// Counts the header parser accepts (up to 1e12) over tiny resets or
// windows make rates faster than one unit per nanosecond: the gate treats
// them as no limit (no API can be held to such a pace, so it cannot bind)
// instead of panicking inside RoundTrip.
func TestGateLearnsNoLimitFromRatesBeyondOneUnitPerNanosecond(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []string
	}{
		{"remaining over a 1s reset", []string{"X-RateLimit-Remaining", "2147483647", "X-RateLimit-Reset", "1"}},
		{"openai request limit", []string{"x-ratelimit-limit-requests", "100000000000"}},
		{"openai token limit", []string{"x-ratelimit-limit-tokens", "1000000000000", "x-ratelimit-remaining-tokens", "1000000000000"}},
		{"anthropic tokens", []string{"anthropic-ratelimit-tokens-remaining", "1000000000000", "anthropic-ratelimit-tokens-reset", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				info := ParseRateLimitHeaders(respHeader(tc.headers...), headerNow)
				g := NewGate()
				for range 3 {
					p, err := g.Acquire(t.Context(), Cost{InputTokens: 1000, OutputTokens: 1000})
					if err != nil {
						t.Fatal(err)
					}
					p.Done(Outcome{RateLimit: &info})
				}
				if got := g.LearnedRate(); !got.IsZero() {
					t.Errorf("learned %v, want no limit", got)
				}
				for k := range g.learned.tokens {
					if got := g.learned.tokens[k].Rate(); !got.IsZero() {
						t.Errorf("learned %v %v, want no limit", TokenKind(k), got)
					}
				}
			})
		})
	}
}

// A learned rate that could bind replaces a learned one that could not,
// and the other way round.
func TestGateLearnedPaceFollowsTheAPIIntoAndOutOfNoLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate()
		learn := func(remaining int64) {
			p, _ := g.Acquire(t.Context(), Cost{})
			p.Done(Outcome{RateLimit: &RateLimitInfo{Requests: Quota{Remaining: remaining, Reset: time.Second}}})
		}
		learn(11)
		if g.LearnedRate().IsZero() {
			t.Fatal("learned no limit from 11 per second")
		}
		learn(1e12)
		if got := g.LearnedRate(); !got.IsZero() {
			t.Fatalf("learned %v from 1e12 per second, want no limit", got)
		}
	})
}

func TestAPISafeSaturates(t *testing.T) {
	for _, r := range []Rate{{N: 1, Per: math.MaxInt64}, {N: 1, Per: math.MaxInt64 - time.Millisecond}} {
		if got := apiSafe(r); got.Per < r.Per || got.validate() != nil {
			t.Errorf("apiSafe(%v) = %v, want a valid rate no faster", r, got)
		}
	}
}

// The 2xx path learns before the permit is done: the call itself is then
// still in flight, but the API's remaining count has already counted it.
func TestGateLearnedPaceCountsTheCallItselfOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-RateLimit-Remaining", "10")
			w.Header().Set("X-RateLimit-Reset", "10")
		})
		tr := &Transport{Base: apitest.RoundTripper{Handler: api}}
		req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://api.test/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got, want := tr.Gate("api.test").LearnedRate(), apiSafe(Rate{N: 10, Per: 10 * time.Second}); got != want {
			t.Errorf("learned %v, want %v (10 left, nothing else in flight)", got, want)
		}
	})
}

// The margin is absolute (maxMargin): a minute's window is widened by 6ms,
// not 600ms. Paced starts whose
// arrivals the network delays by anything up to networkJitter still never
// put more than N in any window of the API's period.
func TestAMinutesWindowHoldsAtTheAPIWithTheAbsoluteMargin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 60
		g := Limits{Rate: PerMinute(n), Concurrency: 1000}.NewGate()
		rng := rand.New(rand.NewPCG(1, 2))
		var arrivals []time.Duration
		begin := time.Now()
		for range 5 * n {
			p, err := g.Acquire(t.Context(), Cost{})
			if err != nil {
				t.Fatal(err)
			}
			// Alternate the extremes and random delays in between, so
			// that consecutive arrivals are compressed by up to the jitter.
			delay := time.Duration(rng.Int64N(int64(networkJitter)))
			if len(arrivals)%2 == 0 {
				delay = networkJitter
			}
			arrivals = append(arrivals, time.Since(begin)+delay)
			p.Done(Outcome{})
		}
		for i := n; i < len(arrivals); i++ {
			if gap := arrivals[i] - arrivals[i-n]; gap < time.Minute {
				t.Fatalf("arrivals %d and %d are %v apart: %d in a minute's window", i-n, i, gap, n+1)
			}
		}
		// 5n starts are 5n-1 intervals of the widened minute apart.
		if took, want := time.Since(begin), (5*n-1)*(time.Minute+maxMargin)/n; took > want+time.Millisecond {
			t.Errorf("%d starts took %v, want %v: the margin costs more than maxMargin a period", 5*n, took, want)
		}
	})
}

// unpacedQuota is what a strict API of 200 calls a second says on every
// response.
var unpacedQuota = &RateLimitInfo{Requests: Quota{Limit: 200, Remaining: 196, Reset: time.Second, Window: time.Second}}

// The calls made before the first response said the limits are charged to
// the learned pace when they started, not when the response came: a batch
// that starts four calls at once and hears back a round trip later has
// already waited most of their four intervals (issue 15: charged at the
// response, they held the next call back a whole round trip more).
func TestGateChargesTheCallsBeforeLearningWhenTheyStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate()
		begin := time.Now()
		var ps []*Permit
		for range 4 {
			p, _ := g.Acquire(t.Context(), Cost{})
			ps = append(ps, p)
		}
		time.Sleep(20 * time.Millisecond) // the round trip
		ps[0].Done(Outcome{RateLimit: unpacedQuota})
		q, _ := g.Acquire(t.Context(), Cost{})
		q.Done(Outcome{})
		iv := apiSafe(PerSecond(200)).Interval()
		if got, want := time.Since(begin), 4*iv; got != want {
			t.Errorf("the fifth call started at %v, want %v: four calls at 0 paced from 0", got, want)
		}
	})
}

// A given rate has paced the calls before the first response already; the
// learned pace, the same, must not pace them a second time from the
// response on.
func TestGateLearningTheGivenRateKeepsItsPace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := Limits{Rate: PerSecond(200), Concurrency: 100, FixedConcurrency: true}.NewGate()
		begin := time.Now()
		var ps []*Permit
		for range 5 {
			p, _ := g.Acquire(t.Context(), Cost{})
			ps = append(ps, p)
		}
		time.Sleep(23*time.Millisecond - time.Since(begin))
		ps[0].Done(Outcome{RateLimit: unpacedQuota})
		q, _ := g.Acquire(t.Context(), Cost{})
		q.Done(Outcome{})
		iv := apiSafe(PerSecond(200)).Interval()
		if got, want := time.Since(begin), 5*iv; got != want {
			t.Errorf("the sixth call started at %v, want %v: the given pace, once", got, want)
		}
	})
}

// Charging the calls when they started must still count them as closely
// bunched as they really were: a call alone at 0 then three at 15ms leave
// the next no sooner than three intervals after 15ms.
func TestGateChargesLateCallsBeforeLearningFromTheirStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate()
		begin := time.Now()
		first, _ := g.Acquire(t.Context(), Cost{})
		time.Sleep(15 * time.Millisecond)
		for range 3 {
			p, _ := g.Acquire(t.Context(), Cost{})
			defer p.Done(Outcome{})
		}
		time.Sleep(5 * time.Millisecond)
		first.Done(Outcome{RateLimit: unpacedQuota})
		q, _ := g.Acquire(t.Context(), Cost{})
		q.Done(Outcome{})
		iv := apiSafe(PerSecond(200)).Interval()
		if got, want := time.Since(begin), 15*time.Millisecond+3*iv; got != want {
			t.Errorf("the fifth call started at %v, want %v", got, want)
		}
	})
}

// Only one window's worth of the first calls is charged (the API refused
// the rest), the latest; calls whose start was not kept count as starting
// when the pace was learned, the latest they can have.
func TestGateChargesAtMostAWindowOfCallsBeforeLearning(t *testing.T) {
	tests := []struct {
		name  string
		calls int
		limit int64
		learn time.Duration // when the first response comes
		want  func(iv time.Duration) time.Duration
	}{
		{"a window's worth", 20, 10, 20 * time.Millisecond, func(iv time.Duration) time.Duration { return 10 * iv }},
		{"more than are kept", unpacedKept + 8, 200, 500 * time.Millisecond, func(iv time.Duration) time.Duration { return 500*time.Millisecond + 8*iv }},
		{"a window's worth, more than are kept", unpacedKept + 9, 10, 500 * time.Millisecond, func(iv time.Duration) time.Duration { return 500*time.Millisecond + 9*iv }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := NewGate()
				begin := time.Now()
				var ps []*Permit
				for range tt.calls {
					p, _ := g.Acquire(t.Context(), Cost{})
					ps = append(ps, p)
				}
				time.Sleep(tt.learn)
				ps[0].Done(Outcome{RateLimit: &RateLimitInfo{Requests: Quota{Limit: tt.limit, Remaining: 0, Reset: time.Second, Window: time.Second}}})
				q, _ := g.Acquire(t.Context(), Cost{})
				q.Done(Outcome{})
				iv := apiSafe(Rate{N: float64(tt.limit), Per: time.Second}).Interval()
				if got, want := time.Since(begin), tt.want(iv); got != want {
					t.Errorf("the next call started at %v, want %v", got, want)
				}
			})
		})
	}
}

func TestPacedChargesStartsAsAPaceWouldHave(t *testing.T) {
	at := func(ms int) time.Time { return headerNow.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name   string
		starts []int // ms after headerNow
		more   int64
		want   time.Time
	}{
		{"none", nil, 0, time.Time{}},
		{"a burst", []int{0, 0, 0}, 0, at(30)},
		{"spread wider than the pace", []int{0, 50, 55}, 0, at(70)},
		{"a late bunch", []int{0, 15, 15, 15}, 0, at(45)},
		{"more at now", []int{0}, 2, at(120)},
		{"only more", nil, 3, at(130)},
	}
	for _, tt := range tests {
		var starts []time.Time
		for _, ms := range tt.starts {
			starts = append(starts, at(ms))
		}
		if got := paced(starts, tt.more, at(100), 10*time.Millisecond); !got.Equal(tt.want) {
			t.Errorf("%s: paced = %v, want %v", tt.name, got.Sub(headerNow), tt.want.Sub(headerNow))
		}
	}
}

// The pace a minute the reset refuted allows: what remains spread until
// the reset, no faster than the limit per the longest refuting reset seen
// (the window is at least that), and never slower than the minute's.
func TestPaceOfAMinuteTheResetRefutes(t *testing.T) {
	minute := apiSafe(Rate{N: 10, Per: time.Minute})
	short := Quota{Limit: 10, Remaining: 9, Reset: 800 * time.Millisecond, Window: time.Minute, resetGrain: time.Millisecond}
	withSeen := func(q Quota, seen time.Duration) Quota { q.seen = seen; return q }
	tests := []struct {
		name     string
		q        Quota
		inFlight int64
		latency  time.Duration
		want     Rate
	}{
		{"not refuted: the minute", Quota{Limit: 10, Remaining: 9, Reset: 6 * time.Second, Window: time.Minute}, 0, 0, minute},
		{"what remains until the reset", short, 0, 0, apiSafe(Rate{N: 9, Per: 800 * time.Millisecond})},
		{"less what is in flight", short, 4, 0, apiSafe(Rate{N: 5, Per: 800 * time.Millisecond})},
		{"at least one", short, 20, 0, apiSafe(Rate{N: 1, Per: 800 * time.Millisecond})},
		{"no faster than the limit per the window seen", withSeen(short, time.Second), 0, 0, apiSafe(Rate{N: 10, Per: time.Second})},
		{"a latency that explains the reset: the minute", Quota{Limit: 10, Remaining: 5, Reset: 20 * time.Second, Window: time.Minute, resetGrain: time.Second}, 0, 10 * time.Second, minute},
		{"never slower than the minute", Quota{Limit: 100, Remaining: 50, Reset: 20 * time.Second, Window: time.Minute, resetGrain: time.Second}, 49, 0, apiSafe(Rate{N: 100, Per: time.Minute})},
	}
	for _, tt := range tests {
		if got, ok := pace(tt.q, tt.inFlight, tt.latency); !ok || got != tt.want {
			t.Errorf("%s: pace = %v, %v; want %v", tt.name, got, ok, tt.want)
		}
	}
}

// Once a reset refuted the minute, a response with nothing remaining (or a
// reset already past) keeps the learned pace rather than falling back to
// the minute's, and pauses the gate until its reset: the short window is
// spent until then. A gate that never saw the minute refuted does neither
// (TestGatePausesAsTheAPIAsks, "ok at full use of a known window").
func TestGateKeepsTheShortWindowsPaceWhenNothingRemains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate()
		p, _ := g.Acquire(t.Context(), Cost{})
		info := ParseRateLimitHeaders(respHeader("anthropic-ratelimit-requests-limit", "10", "anthropic-ratelimit-requests-remaining", "9",
			"anthropic-ratelimit-requests-reset", time.Now().Add(900*time.Millisecond).UTC().Format(time.RFC3339Nano)), time.Now())
		p.Done(Outcome{Latency: 100 * time.Millisecond, RateLimit: &info})
		want := apiSafe(Rate{N: 9, Per: 900 * time.Millisecond})
		if got := g.LearnedRate(); got != want {
			t.Fatalf("learned %v, want %v", got, want)
		}
		for _, tc := range []struct {
			name      string
			remaining string
			reset     time.Duration
			pause     time.Duration
		}{
			{"nothing remaining", "0", 300 * time.Millisecond, 300 * time.Millisecond},
			{"a reset already past", "3", -time.Millisecond, 0},
		} {
			p, _ := g.Acquire(t.Context(), Cost{})
			info := ParseRateLimitHeaders(respHeader("anthropic-ratelimit-requests-limit", "10", "anthropic-ratelimit-requests-remaining", tc.remaining,
				"anthropic-ratelimit-requests-reset", time.Now().Add(tc.reset).UTC().Format(time.RFC3339Nano)), time.Now())
			p.Done(Outcome{Latency: 100 * time.Millisecond, RateLimit: &info})
			if got := g.LearnedRate(); got != want {
				t.Errorf("%s: learned %v, want %v kept", tc.name, got, want)
			}
			paused := time.Duration(0)
			if until := g.PausedUntil(); until.After(time.Now()) {
				paused = time.Until(until)
			}
			if paused != tc.pause {
				t.Errorf("%s: paused %v, want %v", tc.name, paused, tc.pause)
			}
			time.Sleep(time.Second)
		}
	})
}

// A minute's request limit is enforced in slices of a second by some
// APIs (OpenAI says so): 600 a minute paced with only a minute's 6ms of
// margin put 10 calls in 1000.0ms, and a strict per-second slice refused
// 7% of them (outside review, through the proxy). Each second of a longer
// window keeps the margin; a second's window, or a slow rate, is as it was.
func TestSlicedSafeKeepsTheMarginInEverySecond(t *testing.T) {
	tests := []struct {
		r    Rate
		want time.Duration // the interval between starts
	}{
		{PerMinute(600), 100600 * time.Microsecond},
		{PerSecond(10), 100600 * time.Microsecond},
		{PerSecond(200), 5030 * time.Microsecond},
		{PerMinute(30), 2000200 * time.Microsecond}, // under one a second: a minute's margin
	}
	for _, tc := range tests {
		got := slicedSafe(apiSafe(tc.r)).Interval()
		if d := got - tc.want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("%v: interval %v, want %v", tc.r, got, tc.want)
		}
	}
	// 11 paced starts of 600/min span more than a second: no second
	// holds 11, whatever the 4ms of jitter the margin is for.
	if span := 10 * slicedSafe(apiSafe(PerMinute(600))).Interval(); span < time.Second+networkJitter {
		t.Errorf("11 starts at 600/min span %v; want over 1s and the jitter", span)
	}
}
