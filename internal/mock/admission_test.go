package mock

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"
)

func TestRequestBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestServer(t, Config{Requests: Limit{10, time.Second}})

		got := statuses(doAll(s, 15, "GET", "/x", ""))
		if got[200] != 10 || got[429] != 5 {
			t.Errorf("15 at once against 10/s: %v; want 10 200s and 5 429s", got)
		}
		time.Sleep(500 * time.Millisecond) // refills 5
		got = statuses(doAll(s, 6, "GET", "/x", ""))
		if got[200] != 5 || got[429] != 1 {
			t.Errorf("6 after 0.5s: %v; want 5 200s and 1 429", got)
		}
		st := s.Stats()
		if st.Accepted != 15 || st.Throttled[reasonRequests] != 6 || st.ThrottledTotal() != 6 {
			t.Errorf("stats %+v; want 15 accepted and 6 throttled for requests", st)
		}
		checkInvariant(t, s)
	})
}

func TestConcurrencyLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestServer(t, Config{Concurrency: 3, Latency: FixedLatency(time.Second)})

		start := time.Now()
		got := statuses(doAll(s, 5, "GET", "/x", ""))
		if got[200] != 3 || got[429] != 2 {
			t.Errorf("5 at once with 3 slots: %v; want 3 200s and 2 429s", got)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("took %v; want the 1s latency", d)
		}
		st := s.Stats()
		if st.Throttled[reasonConcurrency] != 2 || st.PeakConcurrency != 3 || st.InFlight != 0 {
			t.Errorf("stats %+v; want 2 throttled for concurrency, peak 3, none in flight", st)
		}
		// The slots are free again.
		if got := statuses(doAll(s, 3, "GET", "/x", "")); got[200] != 3 {
			t.Errorf("3 more after the first finished: %v; want 3 200s", got)
		}
		checkInvariant(t, s)
	})
}

// TestLimitOrder checks that limits are checked quota, concurrency,
// requests, tokens, and that a refused request consumes nothing.
func TestLimitOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestServer(t, Config{
			Style:       OpenAI,
			Requests:    Limit{2, time.Minute},
			Tokens:      Limit{100, time.Minute},
			Concurrency: 1,
			Quota:       150,
			Latency:     FixedLatency(time.Second),
			OutputRate:  10,
		})
		// Each chat(10, 160) costs 40+10 tokens and holds the only slot for
		// 1s of latency and 1s of generation.
		const fifty = 160
		send := func(prompt int) *httptest.ResponseRecorder {
			return do(s, "POST", "/v1/chat/completions", chat(10, prompt))
		}
		throttled := func(step string, w *httptest.ResponseRecorder, reason string, want int64) {
			t.Helper()
			if got := s.Stats().Throttled[reason]; w.Code != 429 || got != want {
				t.Fatalf("%s: %d %s, %d throttled for %s; want 429 and %d", step, w.Code, w.Body, got, reason, want)
			}
		}

		go send(fifty)
		synctest.Wait()
		w := send(4)
		throttled("while the slot is taken", w, reasonConcurrency, 1)
		if got := w.Header().Get("x-ratelimit-remaining-requests"); got != "1" {
			t.Errorf("remaining requests after a concurrency refusal = %q; want 1 (nothing consumed)", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()

		// 50 tokens left of 100: a request for 60 is refused for tokens and
		// takes no request unit.
		w = send(200)
		throttled("asking 60 tokens of 50", w, reasonTokens, 1)
		if got := w.Header().Get("x-ratelimit-remaining-requests"); got != "1" {
			t.Errorf("remaining requests after a token refusal = %q; want 1", got)
		}
		if w := send(fifty); w.Code != 200 {
			t.Fatalf("request within every limit: %d %s", w.Code, w.Body)
		}
		// Requests are checked before tokens: both are out now.
		throttled("requests and tokens out", send(400), reasonRequests, 1)

		// A minute later the buckets are full; 100 of the 150 quota is used.
		// The next request uses it up when its answer starts, and holds the
		// slot for one more second: quota is checked before concurrency.
		time.Sleep(time.Minute)
		go send(fifty)
		time.Sleep(1500 * time.Millisecond)
		if st := s.Stats(); st.InFlight != 1 || st.Accepted != 3 {
			t.Fatalf("stats %+v; want 1 in flight, 3 accepted", st)
		}
		throttled("quota used up, slot taken", send(4), reasonQuota, 1)
		time.Sleep(time.Second)
		throttled("quota used up, slot free", send(4), reasonQuota, 2)
		checkInvariant(t, s)
	})
}

func TestCancelFreesSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestServer(t, Config{
			Style:       Anthropic,
			Concurrency: 1,
			InputTokens: Limit{100, time.Hour},
			Latency:     FixedLatency(time.Hour),
		})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan int)
		go func() { done <- doContext(ctx, s, "POST", "/v1/messages", message(10, 400)).Code }()
		synctest.Wait()
		if st := s.Stats(); st.InFlight != 1 {
			t.Fatalf("in flight %d; want 1", st.InFlight)
		}
		time.Sleep(100 * time.Millisecond)
		cancel()
		<-done

		st := s.Stats()
		if st.InFlight != 0 || st.Canceled != 1 || st.Accepted != 0 || st.InputTokens != 0 {
			t.Errorf("after the client went away: %+v; want 0 in flight, 1 canceled, none accepted", st)
		}
		// The slot is free and the 100 input tokens were given back.
		go do(s, "POST", "/v1/messages", message(10, 400))
		synctest.Wait()
		if st := s.Stats(); st.InFlight != 1 || st.ThrottledTotal() != 0 {
			t.Errorf("next request: %+v; want it admitted", st)
		}
		s.Close() // cuts the hour-long request short
		checkInvariant(t, s)
	})
}

func TestClosedServerRefuses(t *testing.T) {
	s := newTestServer(t, Config{})
	s.Close()
	if w := do(s, "GET", "/x", ""); w.Code != http.StatusServiceUnavailable {
		t.Errorf("request after Close: %d; want 503", w.Code)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
