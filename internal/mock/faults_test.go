package mock

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// tolerance returns 4.5 standard deviations of a binomial count of n trials
// at p: a fixed seed makes the test deterministic, and any other seed
// would pass it all but once in 150,000 runs.
func tolerance(n int, p float64) float64 { return 4.5 * math.Sqrt(float64(n)*p*(1-p)) }

func TestFailProportion(t *testing.T) {
	for _, style := range []Style{Anthropic, OpenAI, Generic} {
		const n, p = 1000, 0.5
		s := newTestServer(t, Config{Style: style, Fail: p, Seed: 42})
		target, body := "/v1/messages", message(10, 8)
		if style == OpenAI {
			target, body = "/v1/chat/completions", chat(10, 8)
		}
		byStatus := map[int]int{}
		for range n {
			w := do(s, "POST", target, body)
			byStatus[w.Code]++
			if w.Code == 529 {
				v := jsonBody(t, w)
				if path(v, "type") != "error" || path(v, "error.type") != "overloaded_error" || path(v, "error.message") != "Overloaded" {
					t.Errorf("529 body %s", w.Body)
				}
			}
		}
		failed := n - byStatus[200]
		if math.Abs(float64(failed)-n*p) > tolerance(n, p) {
			t.Errorf("%s: %d of %d failed; want %v ± %.0f", style, failed, n, n*p, tolerance(n, p))
		}
		statuses := []int{500, 502, 503}
		if style == Anthropic {
			statuses = append(statuses, 529)
		}
		for _, code := range statuses {
			q := p / float64(len(statuses))
			if got := byStatus[code]; math.Abs(float64(got)-n*q) > tolerance(n, q) {
				t.Errorf("%s: %d answers %d; want %v ± %.0f", style, got, code, n*q, tolerance(n, q))
			}
		}
		if got := len(byStatus); got != len(statuses)+1 {
			t.Errorf("%s: statuses %v; want 200 and %v only", style, byStatus, statuses)
		}
		if st := s.Stats(); st.Failed != int64(failed) {
			t.Errorf("%s: Stats.Failed %d; want %d", style, st.Failed, failed)
		}
		checkInvariant(t, s)
	}
}

// TestFaultsDeterministic checks that a seed fixes the sequence of faults:
// the statuses, in order (a body holds the clock's second, "created",
// and two runs straddling a second differed in a CI run).
func TestFaultsDeterministic(t *testing.T) {
	run := func() string {
		s := newTestServer(t, Config{Style: OpenAI, Fail: 0.3, Seed: 7})
		var b strings.Builder
		for range 50 {
			w := do(s, "POST", "/v1/chat/completions", chat(20, 8))
			fmt.Fprintf(&b, "%d ", w.Code)
		}
		return b.String()
	}
	if a, b := run(), run(); a != b {
		t.Errorf("two runs with seed 7 differ")
	}
}

func TestFailedRequestKeepsNoTokens(t *testing.T) {
	s := newTestServer(t, Config{Style: Anthropic, Fail: 1, Requests: Limit{10, time.Hour}, InputTokens: Limit{100, time.Hour}})
	w := do(s, "POST", "/v1/messages", message(10, 200))
	if w.Code < 500 {
		t.Fatalf("Fail 1: %d", w.Code)
	}
	if got := w.Header().Get("anthropic-ratelimit-input-tokens-remaining"); got != "100" {
		t.Errorf("input tokens remaining after a failure %q; want 100: its tokens are given back", got)
	}
	if got := w.Header().Get("anthropic-ratelimit-requests-remaining"); got != "9" {
		t.Errorf("requests remaining after a failure %q; want 9: the API saw it", got)
	}
}

func TestSlowBodies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, p = 400, 0.3
		s := newTestServer(t, Config{Style: Anthropic, SlowBodies: p, Seed: 3})
		slow := 0
		for range n {
			start := time.Now()
			w := do(s, "POST", "/v1/messages", message(10, 8))
			d := time.Since(start)
			if w.Code != 200 || jsonBody(t, w)["type"] != "message" {
				t.Fatalf("slow body is not a whole message: %d %s", w.Code, w.Body)
			}
			switch {
			case d == 0:
			case d >= slowMin && d < slowMin+slowSpread:
				slow++
			default:
				t.Errorf("a body took %v; want 0 or 1s to 2s", d)
			}
		}
		if math.Abs(float64(slow)-n*p) > tolerance(n, p) {
			t.Errorf("%d of %d slow; want %v ± %.0f", slow, n, n*p, tolerance(n, p))
		}
		// Streams are slowed too.
		s = newTestServer(t, Config{Style: Anthropic, SlowBodies: 1})
		start := time.Now()
		do(s, "POST", "/v1/messages", `{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if d := time.Since(start); d < slowMin || d >= slowMin+slowSpread {
			t.Errorf("slow stream took %v; want 1s to 2s", d)
		}
	})
}

// TestResetWithoutHijacker checks that a reset through a ResponseWriter
// that cannot be hijacked aborts the handler, and still frees its slot.
func TestResetWithoutHijacker(t *testing.T) {
	s := newTestServer(t, Config{Style: Generic, Resets: 1, Concurrency: 1})
	for range 2 {
		func() {
			defer func() {
				if r := recover(); r != http.ErrAbortHandler {
					t.Errorf("recovered %v; want http.ErrAbortHandler", r)
				}
			}()
			do(s, "GET", "/", "")
		}()
	}
	if st := s.Stats(); st.Resets != 2 || st.InFlight != 0 || st.ThrottledTotal() != 0 {
		t.Errorf("stats %+v; want 2 resets, nothing in flight or throttled", st)
	}
}

func TestResetOverLoopback(t *testing.T) {
	s, err := Start(Config{Style: Anthropic, Resets: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Post(s.URL()+"/v1/messages", "application/json", strings.NewReader(message(10, 8)))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got %s; want a connection error", resp.Status)
	}
	if !strings.Contains(err.Error(), "connection reset") && !strings.Contains(err.Error(), "EOF") {
		t.Errorf("error %v; want a reset connection", err)
	}
	var ue interface{ Timeout() bool }
	if errors.As(err, &ue) && ue.Timeout() {
		t.Errorf("error %v is a timeout; want a reset", err)
	}
	if st := s.Stats(); st.Resets != 1 || st.Requests != 1 {
		t.Errorf("stats %+v; want 1 request, 1 reset", st)
	}
}
