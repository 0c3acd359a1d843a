package sluice

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

// fixedWindowAPI is a strict API of limit calls per fixed window (windows
// start at whole multiples of window since the Unix epoch, as the outside
// review's server's did), saying so in the generic X-RateLimit headers
// with the reset in whole seconds, rounded up (or down, with floor). The
// headers are written when a call arrives; the answer comes latency
// later. other, when set, is another client's share: that many calls of
// every window are taken at its start, before any of ours, or, with
// spread, evenly through it.
type fixedWindowAPI struct {
	limit   int
	window  time.Duration
	latency time.Duration
	floor   bool
	other   int
	spread  bool
	joins   time.Duration // when the other client starts, after our first call

	mu        sync.Mutex
	first     time.Time
	current   int64 // the window being counted
	used      int   // ours, and the other's when not spread
	accepted  int
	throttled int
}

func (a *fixedWindowAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	now := time.Now()
	if a.first.IsZero() {
		a.first = now
	}
	other := a.other
	if now.Sub(a.first) < a.joins {
		other = 0
	}
	if win := now.UnixNano() / int64(a.window); win != a.current {
		a.current, a.used = win, other
		if a.spread {
			a.used = 0
		}
	}
	end := time.Unix(0, (a.current+1)*int64(a.window))
	used := a.used
	if a.spread {
		// The other's calls so far, one in the middle of each
		// window/other of the window.
		used += int((2*int64(other)*(int64(a.window)-int64(end.Sub(now))) + int64(a.window)) / (2 * int64(a.window)))
	}
	secs := end.Sub(now).Seconds()
	reset := math.Ceil(secs)
	if a.floor {
		reset = math.Floor(secs)
	}
	ok := used < a.limit
	if ok {
		a.used++
		used++
		a.accepted++
	} else {
		a.throttled++
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(a.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(a.limit-used))
	h.Set("X-RateLimit-Reset", strconv.Itoa(int(reset)))
	a.mu.Unlock()
	if !ok {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(secs))))
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	time.Sleep(a.latency)
}

// runFixedWindow sends n calls from workers goroutines through a
// Transport that is given no limits, and returns how long they took.
func runFixedWindow(t *testing.T, api http.Handler, n, workers int, start time.Duration) (*Transport, time.Duration) {
	time.Sleep(start)
	tr := &Transport{Base: apitest.RoundTripper{Handler: api}}
	return tr, getAll(t, &http.Client{Transport: tr}, "http://api.test/", n, workers)
}

// A fixed window of 10 a second whose generic headers write the reset in
// whole seconds, rounded up, reads "reset 1" to its last moment: spread
// over that second, the last few calls of every window went at 1 to 3 a
// second, and 100 calls took 16 s against the 10 the API allowed (outside
// review, finding 7). The window the resets prove (learn_generic.go) paces
// them at the limit, within 5% of the minimum (10.09s), with no 429.
func TestLearnedPaceKeepsUpWithAFixedWindowOfWholeSecondResets(t *testing.T) {
	const n, limit, latency = 100, 10, 20 * time.Millisecond
	synctest.Test(t, func(t *testing.T) {
		api := &fixedWindowAPI{limit: limit, window: time.Second, latency: latency}
		tr, took := runFixedWindow(t, api, n, 8, 300*time.Millisecond)
		if api.throttled != 0 {
			t.Errorf("%d 429s at the API", api.throttled)
		}
		least := time.Duration(n-1) * time.Second / limit
		if took > least*105/100 {
			t.Errorf("%d calls took %v, want within 5%% of %v (learned %v)", n, took, least, tr.Gate("api.test").LearnedRate())
		}
		t.Logf("%d calls took %v; learned %v", n, took, tr.Gate("api.test").LearnedRate())
	})
}

// What must stay as it was: resets that round down (a fixed window's
// last second reads "0", so its longest reset is a second short), a
// quota another client spends too, a long window read near its end (an
// hourly quota must not become 5000 a few seconds because its reset read
// 3). None may draw more than 1% 429s, and none may be paced by a window
// shorter than its own.
func TestLearnedPaceStaysSafeWhenTheResetsProveNoWindow(t *testing.T) {
	tests := []struct {
		name    string
		api     *fixedWindowAPI
		n       int
		start   time.Duration // into the API's window
		minimum time.Duration // the shortest window the gate may prove; 0: none
	}{
		{"resets rounded down", &fixedWindowAPI{limit: 40, window: 2 * time.Second, floor: true}, 400, 300 * time.Millisecond, 0},
		{"shared with another client", &fixedWindowAPI{limit: 10, window: time.Second, other: 4}, 100, 300 * time.Millisecond, 0},
		{"shared with another client through the window", &fixedWindowAPI{limit: 10, window: time.Second, other: 4, spread: true}, 200, 300 * time.Millisecond, 0},
		{"shared with another client from later on", &fixedWindowAPI{limit: 10, window: time.Second, other: 4, joins: 5 * time.Second}, 200, 300 * time.Millisecond, 0},
		{"a minute read near its end", &fixedWindowAPI{limit: 6000, window: time.Minute}, 8000, 57 * time.Second, time.Minute},
		{"an hour read near its end", &fixedWindowAPI{limit: 5000, window: time.Hour}, 3000, time.Hour - 3*time.Second, time.Hour},
		{"a two-second window", &fixedWindowAPI{limit: 10, window: 2 * time.Second}, 100, 300 * time.Millisecond, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt.api.latency = 20 * time.Millisecond
				tr, took := runFixedWindow(t, tt.api, tt.n, 8, tt.start)
				g := tr.Gate("api.test")
				if tt.api.throttled*100 > tt.n {
					t.Errorf("%d 429s of %d calls, want at most 1%%", tt.api.throttled, tt.n)
				}
				proven := time.Duration(0)
				if g.learned.generic != nil {
					proven = max(g.learned.generic.window, 0)
				}
				if proven != 0 && proven < tt.minimum || tt.minimum == 0 && proven != 0 {
					t.Errorf("proved a window of %v, want none or at least %v", proven, tt.minimum)
				}
				t.Logf("%d calls took %v, %d 429s; window %v, learned %v", tt.n, took, tt.api.throttled, proven, g.LearnedRate())
			})
		})
	}
}

func TestWindowPaceTakesTheFaster(t *testing.T) {
	q := Quota{Limit: 10, Remaining: 2, Reset: time.Second}
	tests := []struct {
		name   string
		q      Quota
		window time.Duration
		r      Rate
		ok     bool
		want   Rate
	}{
		{"no window", q, 0, apiSafe(Rate{N: 2, Per: time.Second}), true, apiSafe(Rate{N: 2, Per: time.Second})},
		{"the window's", q, time.Second, apiSafe(Rate{N: 2, Per: time.Second}), true, apiSafe(PerSecond(10))},
		{"what remains, faster", q, 10 * time.Second, apiSafe(Rate{N: 2, Per: time.Second}), true, apiSafe(Rate{N: 2, Per: time.Second})},
		{"no pace from what remains", q, time.Second, Rate{}, false, apiSafe(PerSecond(10))},
		{"no limit from what remains", q, time.Second, Rate{}, true, Rate{}},
		{"a named window", Quota{Limit: 10, Remaining: 2, Reset: time.Second, Window: time.Minute}, time.Second, apiSafe(PerMinute(10)), true, apiSafe(PerMinute(10))},
	}
	for _, tt := range tests {
		if got, _ := windowPace(tt.q, tt.window, tt.r, tt.ok); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// The window is proven by a response that read Limit-1, from a call sent
// after one that read half the limit or less came back, and soon after
// it; one reset of "0" (rounded down), one written finer than a second,
// or throttling over 1% after the proof rule it out for good.
func TestGenericWindowProofAndWhatRulesItOut(t *testing.T) {
	// A fixed window of 10 a second read every 100ms (every step), 20ms
	// after the call was sent: remaining 9 down to 0, then 9 again.
	feed := func(w *genericWindow, from, n int, step time.Duration) time.Duration {
		var got time.Duration
		for i := from; i < from+n; i++ {
			q := Quota{Limit: 10, Remaining: int64(9 - i%10), Reset: time.Second}
			got = w.note(q, time.Duration(i)*step, 20*time.Millisecond, int64(i), false)
		}
		return got
	}
	for _, tc := range []struct {
		name string
		step time.Duration
		want time.Duration
	}{
		{"calls 100ms apart", 100 * time.Millisecond, time.Second},
		{"calls 500ms apart: the refill is not seen soon enough", 500 * time.Millisecond, 0},
		{"calls overlapping: the order at the API is not known", 10 * time.Millisecond, 0},
	} {
		var w genericWindow
		if got := feed(&w, 0, 10, tc.step); got != 0 {
			t.Errorf("%s: proved %v from a single window", tc.name, got)
		}
		if got := feed(&w, 10, 1, tc.step); got != tc.want {
			t.Errorf("%s: proved %v at the refill, want %v", tc.name, got, tc.want)
		}
	}
	var w genericWindow
	feed(&w, 0, 30, 100*time.Millisecond)
	tests := []struct {
		name      string
		q         Quota
		throttled int
	}{
		{"a reset of 0", Quota{Limit: 10, Remaining: 3, Reset: 0}, 0},
		{"a reset finer than a second", Quota{Limit: 10, Remaining: 3, Reset: 300 * time.Millisecond}, 0},
		{"throttled twice in 100 calls", Quota{Limit: 10, Remaining: 0, Reset: time.Second}, 2},
	}
	for _, tt := range tests {
		v := w
		at := 30 * 100 * time.Millisecond
		if tt.throttled == 0 {
			v.note(tt.q, at, 20*time.Millisecond, 130, false)
		}
		for i := range tt.throttled {
			v.note(tt.q, at+time.Duration(i)*time.Millisecond, 20*time.Millisecond, 130, true)
		}
		if v.window != -1 {
			t.Errorf("%s: window %v, want ruled out", tt.name, v.window)
		}
		if got := feed(&v, 31, 30, 100*time.Millisecond); got != 0 {
			t.Errorf("%s: proved %v again", tt.name, got)
		}
	}
	// One throttled call is not enough: a window's boundary seen late.
	v := w
	v.note(Quota{Limit: 10, Remaining: 0, Reset: time.Second}, 3*time.Second, 20*time.Millisecond, 130, true)
	if got := feed(&v, 31, 30, 100*time.Millisecond); got != time.Second {
		t.Errorf("one 429: window %v, want 1s kept", got)
	}
	// A longer reset seen later lengthens the window; a new limit
	// starts over.
	v = w
	if got := v.note(Quota{Limit: 10, Remaining: 5, Reset: 3 * time.Second}, 4*time.Second, 0, 140, false); got != 3*time.Second {
		t.Errorf("a reset of 3s: window %v, want 3s", got)
	}
	if got := v.note(Quota{Limit: 20, Remaining: 19, Reset: time.Second}, 5*time.Second, 0, 141, false); got != 0 {
		t.Errorf("a new limit: window %v, want none", got)
	}
}

// Once the window is proven, its last call reading nothing remaining
// does not pause the gate for the reset (a whole second, where the
// window may end a moment later): the pace keeps the window. A refused
// call still pauses it.
func TestAProvenGenericWindowPausesOnlyWhenRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		class Class
		pause time.Duration
	}{
		{"the window's last call", ClassOK, 0},
		{"a refused call", ClassThrottled, time.Second},
	} {
		synctest.Test(t, func(t *testing.T) {
			g := NewGate()
			g.learned.generic = &genericWindow{limit: 10, top: time.Second, window: time.Second, lastLeft: 1}
			p, _ := g.Acquire(t.Context(), Cost{})
			p.Done(Outcome{Class: tc.class, RateLimit: &RateLimitInfo{Requests: Quota{Limit: 10, Remaining: 0, Reset: time.Second}}})
			paused := time.Duration(0)
			if until := g.PausedUntil(); until.After(time.Now()) {
				paused = time.Until(until)
			}
			if paused != tc.pause {
				t.Errorf("%s: paused %v, want %v", tc.name, paused, tc.pause)
			}
			if got, want := g.LearnedRate(), apiSafe(PerSecond(10)); got != want {
				t.Errorf("%s: learned %v, want %v", tc.name, got, want)
			}
		})
	}
}

// genericOnly passes on what h answers without its IETF headers, so that
// only the X-RateLimit ones (no window named) are left.
type genericOnly struct{ h http.Handler }

func (g genericOnly) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.h.ServeHTTP(stripIETF{w}, r)
}

type stripIETF struct{ http.ResponseWriter }

func (s stripIETF) WriteHeader(code int) {
	s.Header().Del("Ratelimit-Policy")
	s.Header().Del("Ratelimit")
	s.ResponseWriter.WriteHeader(code)
}

func (s stripIETF) Write(b []byte) (int, error) {
	s.Header().Del("Ratelimit-Policy")
	s.Header().Del("Ratelimit")
	return s.ResponseWriter.Write(b)
}

// A sliding window of 20 in any 2 seconds, in generic headers with
// whole-second resets (when the oldest call leaves): at full use they
// read "1", as a fixed second's do, but remaining never climbs back to
// the limit less one, so no window is proven and the pace stays what
// remains until the reset, without 429s.
func TestLearnedPaceProvesNoWindowFromASlidingWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &apitest.Server{Limit: 20, Window: 2 * time.Second, Latency: 20 * time.Millisecond, Headers: true, RetryAfter: true}
		tr, took := runFixedWindow(t, genericOnly{api}, 200, 8, 0)
		g := tr.Gate("api.test")
		if c := api.Counts(); c.Throttled()*100 > 200 {
			t.Errorf("%d 429s of 200 calls, want at most 1%%", c.Throttled())
		}
		if g.learned.generic == nil || g.learned.generic.window > 0 {
			t.Errorf("generic window %+v, want none proven", g.learned.generic)
		}
		t.Logf("200 calls took %v, %d 429s; learned %v", took, api.Counts().Throttled(), g.LearnedRate())
	})
}
