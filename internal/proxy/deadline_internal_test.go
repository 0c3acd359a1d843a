package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice"
)

// fakeUpstream is a base transport in memory, so that synctest's clock
// runs the whole route: it answers each attempt with answer and records
// what it was sent.
type fakeUpstream struct {
	mu      sync.Mutex
	headers []http.Header
	bodies  []string
	answer  func(n int, req *http.Request) *http.Response
}

func (f *fakeUpstream) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	f.mu.Lock()
	f.headers = append(f.headers, req.Header.Clone())
	f.bodies = append(f.bodies, string(body))
	n := len(f.headers)
	f.mu.Unlock()
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	return f.answer(n, req), nil
}

func (f *fakeUpstream) sent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.headers)
}

func response(status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}

// testRoute builds a route served in memory, with its counters.
func testRoute(t *testing.T, r Route, up http.RoundTripper) *route {
	t.Helper()
	r.Upstream = &url.URL{Scheme: "http", Host: "upstream.test"}
	r.Base = up
	if err := r.validate(); err != nil {
		t.Fatal(err)
	}
	rt := newRoute(r, logger{})
	newRegistry([]*route{rt})
	return rt
}

// serveOne serves one request through r and returns what its client got.
func serveOne(r *route, method, target string, header http.Header, body string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	for k, v := range header {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	r.serve(w, req)
	return w
}

// A request the gate admits just as its max wait runs out is served, not
// refused: refused, it would have used a unit of rate and sent nothing.
// afterGrant holds the request between the gate's yes and the base, past
// its max wait; before the fix the max wait's timer cancelled it there and
// the client got an error.
func TestMaxWaitRunningOutAsTheGateAdmitsServesTheRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &fakeUpstream{answer: func(int, *http.Request) *http.Response { return response(200, `{"ok":true}`) }}
		r := testRoute(t, Route{Preset: Generic, MaxWait: time.Second,
			Limits: sluice.Limits{Rate: sluice.PerSecond(1), Concurrency: 4, FixedConcurrency: true}}, up)
		afterGrant = func() { time.Sleep(2 * time.Second) }
		defer func() { afterGrant = nil }()

		w := serveOne(r, "GET", "/a", nil, "")
		if w.Code != 200 || up.sent() != 1 {
			t.Fatalf("got %d %q with %d sent upstream; want 200 and 1 sent", w.Code, w.Body.String(), up.sent())
		}
		if got := r.obs.requests[outcome2xx].Load(); got != 1 {
			t.Errorf("2xx counted %d, want 1 (maxwait %d, error %d)", got, r.obs.requests[outcomeMaxWait].Load(), r.obs.requests[outcomeError].Load())
		}
		if got := r.obs.admitted.Load(); got != 1 {
			t.Errorf("admitted counted %d, want 1", got)
		}
		if s := r.stats(); s.Queued != 0 || s.Gates.InFlight != 0 {
			t.Errorf("after: %+v, want nothing queued or in flight", s)
		}
	})
}

// A request still in line when its max wait runs out is refused with
// 429, and nothing of it reaches the upstream.
func TestMaxWaitRefusesARequestStillInLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		up := &fakeUpstream{answer: func(n int, _ *http.Request) *http.Response {
			if n == 1 {
				<-release
			}
			return response(200, `{"ok":true}`)
		}}
		r := testRoute(t, Route{Preset: Generic, MaxWait: time.Second,
			Limits: sluice.Limits{Concurrency: 1, FixedConcurrency: true}}, up)
		first := make(chan *httptest.ResponseRecorder)
		go func() { first <- serveOne(r, "GET", "/a", nil, "") }()
		synctest.Wait()
		w := serveOne(r, "GET", "/a", nil, "") // behind the first's slot, which no prediction sees
		if w.Code != 429 || w.Header().Get("Retry-After") == "" {
			t.Errorf("second: %d %q, want 429 with Retry-After", w.Code, w.Body.String())
		}
		close(release)
		if w := <-first; w.Code != 200 {
			t.Errorf("first: %d, want 200", w.Code)
		}
		if up.sent() != 1 {
			t.Errorf("sent upstream %d, want 1", up.sent())
		}
	})
}

// Retries stay within the client's deadline: against an upstream that is
// always overloaded, a client that says it waits 3 s (as the SDKs do, with
// X-Stainless-Timeout) gets the proxy's 504 in the upstream's style before
// its 3 s, not the end of every retry. Without a timeout header the same
// request takes all its attempts.
func TestRetriesStayWithinTheClientsDeadline(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header http.Header
		want   time.Duration // the latest the answer may come
	}{
		{"X-Stainless-Timeout", http.Header{"X-Stainless-Timeout": {"3"}}, 3 * time.Second},
		{"X-Sluice-Timeout", http.Header{"X-Sluice-Timeout": {"2500ms"}}, 2500 * time.Millisecond},
		{"Request-Timeout", http.Header{"Request-Timeout": {"2"}}, 2 * time.Second},
		{"the smallest", http.Header{"X-Stainless-Timeout": {"600"}, "Request-Timeout": {"1.5"}}, 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := &fakeUpstream{answer: func(int, *http.Request) *http.Response {
					return response(529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
				}}
				// Overloaded backoffs of at most 800 ms: a retry comes in
				// time, and the attempts the retry budget allows take
				// longer than any deadline here.
				r := testRoute(t, Route{Preset: Anthropic, Retry: sluice.RetryPolicy{MaxAttempts: 100,
					Backoff: sluice.Backoff{Base: 200 * time.Millisecond, Cap: 800 * time.Millisecond}}}, up)
				begin := time.Now()
				w := serveOne(r, "POST", "/v1/messages", tc.header, `{"model":"claude-haiku-4-5","max_tokens":5,"messages":[]}`)
				took := time.Since(begin)
				if took >= tc.want {
					t.Errorf("answered after %v; the client gives up at %v", took, tc.want)
				}
				// The proxy's 504, or the last upstream answer when the
				// retry budget (which fails fast) ran out first.
				var body struct {
					Type  string
					Error struct{ Type, Message string }
				}
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Type != "error" {
					t.Errorf("body %q: want an Anthropic error", w.Body.String())
				}
				switch {
				case w.Code == http.StatusGatewayTimeout && body.Error.Type == "timeout_error":
					if got := r.obs.requests[outcomeDeadline].Load(); got != 1 {
						t.Errorf("deadline_exceeded counted %d, want 1", got)
					}
				case w.Code == 529 && body.Error.Type == "overloaded_error":
					t.Logf("the retry budget ran out first")
				default:
					t.Fatalf("got %d %q, want 504 timeout_error or the upstream's 529", w.Code, w.Body.String())
				}
				if n := up.sent(); n < 2 || n >= 100 {
					t.Errorf("attempts upstream %d: want some retries, not all 100", n)
				}
				if s := r.stats(); s.Gates.InFlight != 0 {
					t.Errorf("after: %+v, want nothing in flight", s)
				}
			})
		})
	}
}

// The client's deadline bounds the wait for the answer, not the answer:
// a stream that began in time goes on past it. The upstream's body ends
// with its request's context, as net/http's does: an outside review's
// streams were cut at their SDK's timeout, the upstream's context
// carrying the client's deadline after the answer had begun.
func TestClientDeadlineDoesNotCutAStreamThatBegan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &fakeUpstream{answer: func(_ int, req *http.Request) *http.Response {
			pr, pw := io.Pipe()
			go func() {
				io.WriteString(pw, "data: one\n\n")
				select {
				case <-time.After(5 * time.Second):
				case <-req.Context().Done():
					pw.CloseWithError(context.Cause(req.Context()))
					return
				}
				io.WriteString(pw, "data: two\n\n")
				pw.Close()
			}()
			return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: pr, ContentLength: -1}
		}}
		r := testRoute(t, Route{Preset: Generic}, up)
		w := serveOne(r, "GET", "/stream", http.Header{"X-Sluice-Timeout": {"1s"}}, "")
		if w.Code != 200 || w.Body.String() != "data: one\n\ndata: two\n\n" {
			t.Errorf("got %d %q, want the whole stream", w.Code, w.Body.String())
		}
	})
}

// A client's deadline shorter than the wait the limits predict is refused
// at once with 429 and Retry-After, taking nothing.
func TestClientDeadlineShorterThanThePredictedWaitRefusedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &fakeUpstream{answer: func(int, *http.Request) *http.Response { return response(200, `{}`) }}
		r := testRoute(t, Route{Preset: Generic, Limits: sluice.Limits{Rate: sluice.Rate{N: 1, Per: 10 * time.Second}}}, up)
		if w := serveOne(r, "GET", "/a", nil, ""); w.Code != 200 {
			t.Fatalf("first: %d", w.Code)
		}
		begin := time.Now()
		w := serveOne(r, "GET", "/a", http.Header{"X-Stainless-Timeout": {"5"}}, "")
		if w.Code != 429 || w.Header().Get("Retry-After") == "" || time.Since(begin) != 0 {
			t.Errorf("second: %d %q after %v, want 429 with Retry-After at once", w.Code, w.Body.String(), time.Since(begin))
		}
		if up.sent() != 1 {
			t.Errorf("sent upstream %d, want 1", up.sent())
		}
	})
}

// The proxy's own headers stay with it; the SDKs' timeout goes on.
func TestSluiceHeadersAreNotSentUpstream(t *testing.T) {
	up := &fakeUpstream{answer: func(int, *http.Request) *http.Response { return response(200, `{}`) }}
	r := testRoute(t, Route{Preset: Generic}, up)
	serveOne(r, "GET", "/a", http.Header{"X-Sluice-Priority": {"5"}, "X-Sluice-Timeout": {"30s"},
		"X-Sluice-Anything": {"x"}, "X-Stainless-Timeout": {"600"}}, "")
	if up.sent() != 1 {
		t.Fatalf("sent %d", up.sent())
	}
	h := up.headers[0]
	for name := range h {
		if strings.HasPrefix(name, "X-Sluice-") {
			t.Errorf("upstream got %s", name)
		}
	}
	if h.Get("X-Stainless-Timeout") != "600" {
		t.Errorf("upstream X-Stainless-Timeout %q, want 600", h.Get("X-Stainless-Timeout"))
	}
}

func TestClientTimeoutHeaders(t *testing.T) {
	for _, tc := range []struct {
		header http.Header
		want   time.Duration
	}{
		{http.Header{}, 0},
		{http.Header{"X-Stainless-Timeout": {"600"}}, 600 * time.Second},
		{http.Header{"X-Stainless-Timeout": {"60.5"}}, 60500 * time.Millisecond},
		{http.Header{"X-Sluice-Timeout": {"1m30s"}}, 90 * time.Second},
		{http.Header{"X-Sluice-Timeout": {"45"}}, 45 * time.Second},
		{http.Header{"Request-Timeout": {"10"}}, 10 * time.Second},
		{http.Header{"Request-Timeout": {"10s"}}, 0}, // seconds only
		{http.Header{"X-Stainless-Timeout": {"600"}, "X-Sluice-Timeout": {"20s"}, "Request-Timeout": {"30"}}, 20 * time.Second},
		{http.Header{"X-Stainless-Timeout": {"abc"}, "Request-Timeout": {"30"}}, 30 * time.Second},
		{http.Header{"X-Stainless-Timeout": {"-1"}}, 0},
		{http.Header{"X-Stainless-Timeout": {"0"}}, 0},
		{http.Header{"X-Stainless-Timeout": {"NaN"}}, 0},
		{http.Header{"X-Stainless-Timeout": {"Inf"}}, 0},
		{http.Header{"X-Stainless-Timeout": {"1e30"}}, 0},
		{http.Header{"X-Sluice-Timeout": {"-5s"}}, 0},
	} {
		if got := clientTimeout(tc.header); got != tc.want {
			t.Errorf("clientTimeout(%v) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func FuzzClientTimeout(f *testing.F) {
	for _, s := range []string{"600", "0.001", "1m", "-1", "NaN", "1e300", "9223372036854775807", "86400", "86400.0000001", " 5 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, duration := range []bool{false, true} {
			d, ok := parseTimeout(s, duration)
			if ok && (d <= 0 || d > maxClientTimeout) {
				t.Fatalf("parseTimeout(%q, %v) = %v, accepted out of range", s, duration, d)
			}
			if ok {
				if m := clientMargin(d); m < 0 || m >= d {
					t.Fatalf("margin %v of %v", m, d)
				}
			}
		}
	})
}

// Requests queued behind one the upstream holds, all with the same
// client timeout: at the deadline the held one is cut and its slot freed
// at the very moment the others' deadlines pass. They are told they were
// never sent, and are not: an outside review saw them "attempted" with a
// dead context, told "the upstream may have acted on it", and taking the
// rate of the next request.
func TestRequestsQueuedPastTheirDeadlineAreNeverSent(t *testing.T) {
	for range 20 { // the timers of one moment fire in any order
		synctest.Test(t, func(t *testing.T) {
			up := &fakeUpstream{answer: func(_ int, req *http.Request) *http.Response {
				select {
				case <-time.After(5 * time.Second):
				case <-req.Context().Done():
				}
				return response(200, "{}")
			}}
			r := testRoute(t, Route{Preset: Generic, Limits: sluice.Limits{Concurrency: 1, FixedConcurrency: true, Rate: sluice.PerSecond(1)}}, up)
			header := http.Header{"X-Sluice-Timeout": {"3"}}
			got := make(chan *httptest.ResponseRecorder, 3)
			for range 3 {
				go func() { got <- serveOne(r, "GET", "/x", header, "") }()
			}
			var sent, never int
			for range 3 {
				w := <-got
				switch {
				case w.Code == http.StatusGatewayTimeout && strings.Contains(w.Body.String(), "never sent upstream"):
					never++
				case w.Code == http.StatusGatewayTimeout:
					t.Logf("told %s", w.Body.String()) // which, when it fails
					sent++
				default:
					t.Errorf("got %d %s, want a 504", w.Code, w.Body.String())
				}
			}
			if n := up.sent(); n != 1 || sent != 1 || never != 2 {
				t.Errorf("the upstream got %d requests; %d told no answer, %d told never sent; want 1, 1, 2", n, sent, never)
			}
		})
	}
}

// An upstream 429 handed back because its retry could not come before the
// client's deadline is counted as the upstream's throttle, not an error.
func TestA429HandedBackAtTheDeadlineIsCountedThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &fakeUpstream{answer: func(int, *http.Request) *http.Response {
			resp := response(http.StatusTooManyRequests, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`)
			resp.Header.Set("Retry-After", "10")
			return resp
		}}
		r := testRoute(t, Route{Preset: Anthropic}, up)
		w := serveOne(r, "POST", "/v1/messages", http.Header{"X-Sluice-Timeout": {"3"}, "Content-Type": {"application/json"}},
			`{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)
		if w.Code != http.StatusTooManyRequests {
			t.Fatalf("got %d %s, want the upstream's 429", w.Code, w.Body.String())
		}
		if got, errs := r.obs.requests[outcomeThrottled].Load(), r.obs.requests[outcomeError].Load(); got != 1 || errs != 0 {
			t.Errorf("counted %d upstream_throttled and %d errors, want 1 and 0", got, errs)
		}
	})
}

// An upstream 429 the proxy held while its retry waited goes back with
// what is left of its Retry-After, not what the upstream said long ago
// (an outside review: "10", 25 s after the upstream said it).
func TestA429HeldByTheProxyGoesBackWithItsRetryAfterAged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &fakeUpstream{answer: func(n int, _ *http.Request) *http.Response {
			if n > 1 {
				return response(200, `{}`)
			}
			resp := response(http.StatusTooManyRequests, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`)
			resp.Header.Set("Retry-After", "3")
			resp.Header.Set("Retry-After-Ms", "3000")
			return resp
		}}
		r := testRoute(t, Route{Preset: Anthropic, Limits: sluice.Limits{Rate: sluice.Rate{N: 1, Per: 5 * time.Second}}}, up)
		body := `{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
		// b is refused at once and its retry waits; a, first in line by
		// its priority, takes the next turn at 5 s, after which b's
		// retry could not come before its deadline (8 s less a tenth):
		// b gets the 429 it was given 5 s before.
		got := make(chan *httptest.ResponseRecorder)
		go func() {
			got <- serveOne(r, "POST", "/v1/messages", http.Header{"Content-Type": {"application/json"}, "X-Sluice-Timeout": {"8"}}, body)
		}()
		time.Sleep(500 * time.Millisecond)
		go serveOne(r, "POST", "/v1/messages", http.Header{"Content-Type": {"application/json"}, "X-Sluice-Priority": {"10"}}, body)
		w := <-got
		if w.Code != http.StatusTooManyRequests {
			t.Fatalf("got %d %s, want the upstream's 429", w.Code, w.Body.String())
		}
		if ra, ms := w.Header().Get("Retry-After"), w.Header().Get("Retry-After-Ms"); ra != "0" || ms != "0" {
			t.Errorf("Retry-After %q, retry-after-ms %q, 5 s after the upstream said 3 s: want 0 and 0", ra, ms)
		}
	})
}
