package sluice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

// fire sends n GETs to url through client from workers goroutines and
// returns how many came back with each status.
func fire(t *testing.T, client *http.Client, url string, n, workers int) map[int]int {
	t.Helper()
	var mu sync.Mutex
	statuses := map[int]int{}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range jobs {
				resp, err := client.Get(url)
				if err != nil {
					t.Error(err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return statuses
}

func TestTransportKeepsAStrictLimitWhenGivenIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &apitest.Server{Limit: 20, Window: time.Second, Concurrency: 5, Latency: 20 * time.Millisecond}
		tr := &Transport{
			Base:   apitest.RoundTripper{Handler: api},
			Limits: Limits{Concurrency: 5, Rate: PerSecond(20)},
		}
		begin := time.Now()
		got := fire(t, &http.Client{Transport: tr}, "http://api.test/x", 100, 16)
		elapsed := time.Since(begin)
		if got[200] != 100 || api.Counts().Throttled() != 0 {
			t.Fatalf("statuses %v, server counts %+v; want 100 OK and no 429", got, api.Counts())
		}
		// The physical minimum is 99 intervals of 50ms plus one latency.
		if min := 99*50*time.Millisecond + 20*time.Millisecond; elapsed > min*102/100 {
			t.Errorf("took %v, more than 2%% over the minimum %v", elapsed, min)
		}
	})
}

func TestTransportLearnsTheLimitFromHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &apitest.Server{Limit: 20, Window: time.Second, Latency: 20 * time.Millisecond, Headers: true, RetryAfter: true}
		tr := &Transport{Base: apitest.RoundTripper{Handler: api}}
		begin := time.Now()
		got := fire(t, &http.Client{Transport: tr}, "http://api.test/x", 200, 16)
		elapsed := time.Since(begin)
		c := api.Counts()
		if got[200] != 200 {
			t.Fatalf("statuses %v; want 200 OK", got)
		}
		if c.Throttled()*100 > c.Requests {
			t.Errorf("%d of %d requests throttled, want under 1%%", c.Throttled(), c.Requests)
		}
		if min := 10 * time.Second; elapsed > min*110/100 {
			t.Errorf("took %v, more than 10%% over the minimum %v", elapsed, min)
		}
		if r := tr.Gate("api.test").LearnedRate(); r.PerSec() > 20 || r.PerSec() < 19 {
			t.Errorf("learned %v, want just under 20/s", r)
		}
	})
}

func TestTransportPausesTheWholeGateOnRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var arrivals []time.Duration
		begin := time.Now()
		first := true
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			arrivals = append(arrivals, time.Since(begin))
			throttle := first
			first = false
			mu.Unlock()
			if throttle {
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(429)
				return
			}
			time.Sleep(10 * time.Millisecond)
		})
		tr := &Transport{Base: apitest.RoundTripper{Handler: h}, Limits: Limits{Concurrency: 4, FixedConcurrency: true}}
		client := &http.Client{Transport: tr}
		resp, err := client.Get("http://api.test/") // throttled, waits out the pause, retried
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("Get = %v, %v", resp, err)
		}
		resp.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		if len(arrivals) != 2 || arrivals[1] < 3*time.Second {
			t.Fatalf("arrivals %v; want the retry after the 3s pause", arrivals)
		}
		if s := tr.Gate("api.test").Stats(); s.Throttled != 1 || s.Pauses != 1 {
			t.Errorf("stats %+v, want 1 throttled and 1 pause", s)
		}
	})
}

func TestTransportPauseHoldsOtherCallers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(429)
			}
		})
		tr := &Transport{Base: apitest.RoundTripper{Handler: h}}
		client := &http.Client{Transport: tr}
		go func() {
			resp, err := client.Get("http://api.test/")
			if err == nil {
				resp.Body.Close() // an unclosed body would hold its slot
			}
		}()
		synctest.Wait()
		begin := time.Now()
		for range 5 {
			resp, err := client.Get("http://api.test/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if time.Since(begin) < 2*time.Second {
				t.Fatalf("a call went through %v into a 2s pause", time.Since(begin))
			}
		}
	})
}

func TestTransportRetriesFaults(t *testing.T) {
	faults := []struct {
		name   string
		status int
		body   string
		class  Class
	}{
		{"500", 500, "", ClassTransient},
		{"502", 502, "", ClassTransient},
		{"503", 503, "", ClassOverloaded},
		{"529", 529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, ClassOverloaded},
		{"408", 408, "", ClassTransient},
		{"429", 429, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`, ClassThrottled},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int64
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if calls.Add(1) <= 2 {
						w.WriteHeader(f.status)
						io.WriteString(w, f.body)
						return
					}
					io.WriteString(w, "fine")
				})
				tr := &Transport{Base: apitest.RoundTripper{Handler: h}}
				resp, err := (&http.Client{Transport: tr}).Get("http://api.test/")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != "fine" || calls.Load() != 3 {
					t.Fatalf("got %d %q after %d calls; want 200 fine after 3", resp.StatusCode, body, calls.Load())
				}
			})
		})
	}
}

// flakyTransport fails the first n round trips with err, then calls next.
type flakyTransport struct {
	n    atomic.Int64
	err  error
	next http.RoundTripper
}

func (f *flakyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.n.Add(-1) >= 0 {
		return nil, f.err
	}
	return f.next.RoundTrip(req)
}

func TestTransportRetriesConnectionResetsAndTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ok := apitest.RoundTripper{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
		flaky := &flakyTransport{err: fmt.Errorf("read: %w", syscall.ECONNRESET), next: ok}
		flaky.n.Store(2)
		tr := &Transport{Base: flaky}
		resp, err := (&http.Client{Transport: tr}).Get("http://api.test/")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("after two resets: %v, %v", resp, err)
		}
		resp.Body.Close()

		slow := apitest.RoundTripper{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(time.Hour):
			case <-r.Context().Done():
			}
		})}
		tr = &Transport{Base: slow, AttemptTimeout: time.Second, Retry: RetryPolicy{MaxAttempts: 3}}
		begin := time.Now()
		_, err = (&http.Client{Transport: tr}).Get("http://api.test/")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Get = %v, want a deadline error", err)
		}
		if got := tr.Gate("api.test").Stats().Admitted; got != 3 {
			t.Errorf("%d attempts, want 3", got)
		}
		if time.Since(begin) < 3*time.Second {
			t.Errorf("3 attempts of 1s took %v", time.Since(begin))
		}
	})
}

func TestTransportXShouldRetry(t *testing.T) {
	tests := []struct {
		status    int
		header    string
		wantCalls int64
	}{
		{500, "false", 1},
		{400, "true", 3},
		{400, "", 1},
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			var calls atomic.Int64
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if tt.header != "" {
					w.Header().Set("X-Should-Retry", tt.header)
				}
				w.WriteHeader(tt.status)
			})
			tr := &Transport{Base: apitest.RoundTripper{Handler: h}, Retry: RetryPolicy{MaxAttempts: 3}}
			resp, err := (&http.Client{Transport: tr}).Get("http://api.test/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status || calls.Load() != tt.wantCalls {
				t.Errorf("%d with x-should-retry %q: got %d after %d calls, want %d calls", tt.status, tt.header, resp.StatusCode, calls.Load(), tt.wantCalls)
			}
		})
	}
}

func TestTransportQuotaExhaustedHaltsTheGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(429)
			io.WriteString(w, `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","code":"insufficient_quota"}}`)
		})
		tr := &Transport{Base: apitest.RoundTripper{Handler: h}}
		client := &http.Client{Transport: tr}
		resp, err := client.Get("http://api.test/")
		if err != nil || resp.StatusCode != 429 {
			t.Fatalf("first call: %v, %v; want the 429 back", resp, err)
		}
		resp.Body.Close()
		_, err = client.Get("http://api.test/")
		if !errors.Is(err, ErrQuotaExhausted) || !strings.Contains(err.Error(), "exceeded your current quota") {
			t.Fatalf("second call: %v; want ErrQuotaExhausted with the API's message", err)
		}
		if calls.Load() != 1 {
			t.Errorf("the API saw %d calls, want 1", calls.Load())
		}
	})
}

func TestTransportRetryBudgetHoldsUnderTotalFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &apitest.Server{Status: 500, Latency: 10 * time.Millisecond}
		budget := &RetryBudget{Ratio: 0.2, Floor: 5, Window: time.Minute}
		tr := &Transport{
			Base:   apitest.RoundTripper{Handler: api},
			Limits: Limits{Concurrency: 20, FixedConcurrency: true},
			Retry:  RetryPolicy{Budget: budget, Backoff: Backoff{Base: 10 * time.Millisecond, Cap: 100 * time.Millisecond}},
		}
		begin := time.Now()
		got := fire(t, &http.Client{Transport: tr}, "http://api.test/", 500, 20)
		if got[500] != 500 {
			t.Fatalf("statuses %v", got)
		}
		if time.Since(begin) > time.Minute {
			t.Fatalf("took %v: the test assumes one budget window", time.Since(begin))
		}
		if n, most := api.Counts().Requests, int64(500*1.2+5); n > most {
			t.Errorf("the API saw %d attempts for 500 items, more than %d", n, most)
		}
	})
}

func TestTransportCancelMidRetryAndMidWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &apitest.Server{Status: 503}
		tr := &Transport{
			Base:   apitest.RoundTripper{Handler: api},
			Limits: Limits{Rate: PerSecond(1)},
			Retry:  RetryPolicy{Backoff: Backoff{Base: 10 * time.Second, Cap: 10 * time.Second}},
		}
		client := &http.Client{Transport: tr}
		// Cancelled, not timed out: a backoff that would outlast a
		// deadline is not begun at all (retry_halt_test.go).
		ctx, cancel := context.WithCancel(t.Context())
		defer time.AfterFunc(5*time.Second, cancel).Stop()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://api.test/", nil)
		begin := time.Now()
		_, err := client.Do(req)
		if !errors.Is(err, context.Canceled) || time.Since(begin) > 5*time.Second {
			t.Fatalf("Do = %v after %v; want cancelled at 5s", err, time.Since(begin))
		}
		s := tr.Gate("api.test").Stats()
		if s.InFlight != 0 || s.Waiting != 0 {
			t.Fatalf("after cancelling: %+v", s)
		}
	})
}

func TestTransportResendsTheBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var bodies []string
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			n := len(bodies)
			mu.Unlock()
			if n%2 == 1 {
				w.WriteHeader(502)
			}
		})
		tr := &Transport{Base: apitest.RoundTripper{Handler: h}}
		client := &http.Client{Transport: tr}
		// One body the standard library can rewind, one it cannot.
		for _, body := range []io.Reader{strings.NewReader("first"), io.MultiReader(strings.NewReader("sec"), strings.NewReader("ond"))} {
			resp, err := client.Post("http://api.test/", "text/plain", body)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("Post = %v, %v", resp, err)
			}
			resp.Body.Close()
		}
		if want := []string{"first", "first", "second", "second"}; fmt.Sprint(bodies) != fmt.Sprint(want) {
			t.Errorf("server saw bodies %q, want %q", bodies, want)
		}
	})
}

func TestTransportHoldsTheSlotUntilTheBodyIsRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "body") })
		tr := &Transport{Base: apitest.RoundTripper{Handler: h}, Limits: Limits{Concurrency: 1, FixedConcurrency: true}}
		client := &http.Client{Transport: tr}
		resp, err := client.Get("http://api.test/")
		if err != nil {
			t.Fatal(err)
		}
		if s := tr.Gate("api.test").Stats(); s.InFlight != 1 {
			t.Fatalf("in flight %d before the body is read, want 1", s.InFlight)
		}
		io.ReadAll(resp.Body)
		if s := tr.Gate("api.test").Stats(); s.InFlight != 0 {
			t.Fatalf("in flight %d after the body was read, want 0", s.InFlight)
		}
		resp.Body.Close()
	})
}

func TestTransportPerKeyGates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
		tr := &Transport{
			Base:   apitest.RoundTripper{Handler: h},
			Limits: Limits{Rate: PerSecond(1)},
			Key:    func(r *http.Request) string { return r.Header.Get("X-Api-Key") },
		}
		begin := time.Now()
		for _, key := range []string{"a", "b", "c"} {
			req, _ := http.NewRequest("GET", "http://api.test/", nil)
			req.Header.Set("X-Api-Key", key)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		if time.Since(begin) != 0 {
			t.Errorf("three keys with a limit each took %v; want no wait", time.Since(begin))
		}
	})
}

// TestTransportOverLoopback runs the Transport against a real loopback
// server in real time, through real sockets and connection reuse. The
// client is given 10% less than the API allows: CI machines run many tests
// at once, and how close to the limit the Transport can go is measured in
// bench/cmd/feedback, not here.
func TestTransportOverLoopback(t *testing.T) {
	api := &apitest.Server{Limit: 50, Window: 500 * time.Millisecond, Concurrency: 5, Latency: 5 * time.Millisecond}
	srv := httptest.NewServer(api)
	defer srv.Close()
	tr := &Transport{Limits: Limits{Concurrency: 5, Rate: Rate{N: 45, Per: 500 * time.Millisecond}}}
	defer tr.CloseIdleConnections()
	got := fire(t, &http.Client{Transport: tr}, srv.URL, 150, 16)
	if got[200] != 150 || api.Counts().Throttled() != 0 {
		t.Fatalf("statuses %v, server %+v; want 150 OK and no 429", got, api.Counts())
	}
}

func TestTransportAttemptTimeoutDoesNotCutASlowBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			for range 5 {
				time.Sleep(time.Second)
				io.WriteString(w, "chunk ")
			}
		})
		srv := &streamingTransport{h: h}
		tr := &Transport{Base: srv, AttemptTimeout: 2 * time.Second}
		resp, err := (&http.Client{Transport: tr}).Get("http://api.test/")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || strings.Count(string(body), "chunk") != 5 {
			t.Fatalf("read %q, %v; want 5 chunks over 5s despite a 2s attempt timeout", body, err)
		}
	})
}

// streamingTransport serves h in-process, streaming its body through a
// pipe as it is written, so that a slow body is slow to read.
type streamingTransport struct{ h http.Handler }

func (s *streamingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		s.h.ServeHTTP(w, req)
		w.WriteHeader(200)
		pw.Close()
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		pr.CloseWithError(req.Context().Err())
		return nil, req.Context().Err()
	}
	go func() {
		<-req.Context().Done()
		pr.CloseWithError(req.Context().Err())
	}()
	return &http.Response{StatusCode: w.status, Header: w.header, Body: pr, Request: req}, nil
}

type pipeWriter struct {
	header http.Header
	pw     *io.PipeWriter
	status int
	once   sync.Once
	ready  chan struct{}
}

func (w *pipeWriter) Header() http.Header { return w.header }
func (w *pipeWriter) WriteHeader(code int) {
	w.once.Do(func() { w.status = code; close(w.ready) })
}
func (w *pipeWriter) Write(p []byte) (int, error) { w.WriteHeader(200); return w.pw.Write(p) }
func (w *pipeWriter) Flush()                      { w.WriteHeader(200) }

func TestTransportHaltAndRoundTripInfo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				w.WriteHeader(502)
			}
		})
		tr := &Transport{Base: apitest.RoundTripper{Handler: h}, Retry: RetryPolicy{Backoff: Backoff{Base: time.Millisecond}}}
		var info RoundTripInfo
		req, _ := http.NewRequestWithContext(WithRoundTripInfo(t.Context(), &info), "GET", "http://api.test/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if info.Attempts != 2 || info.Class != ClassOK {
			t.Fatalf("info %+v, want 2 attempts ending ok", info)
		}
		stop := errors.New("stopping")
		tr.Halt(stop)
		for _, host := range []string{"api.test", "other.test"} { // an existing gate and a new one
			req, _ := http.NewRequest("GET", "http://"+host+"/", nil)
			if _, err := tr.RoundTrip(req); !errors.Is(err, stop) {
				t.Errorf("%s after Halt: %v, want the halt error", host, err)
			}
		}
		if calls.Load() != 2 {
			t.Errorf("the API saw %d calls, want 2", calls.Load())
		}
	})
}

// bigErrorThenOK serves status with a body larger than the Transport reads
// to classify it to the first n calls, then 200 "fine".
func bigErrorThenOK(n int64, status int) (http.Handler, *atomic.Int64) {
	var calls atomic.Int64
	big := strings.Repeat("x", maxErrorBody+10<<10)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= n {
			w.WriteHeader(status)
			io.WriteString(w, big)
			return
		}
		io.WriteString(w, "fine")
	}), &calls
}

// TestTransportRetriesALargeErrorBodyWithoutDeadlock protects retries of
// an error response whose body is too large to read whole: its slot must
// be free before the retry asks for one.
func TestTransportRetriesALargeErrorBodyWithoutDeadlock(t *testing.T) {
	tests := []struct {
		name     string
		limits   Limits
		requests int
	}{
		{"one slot", Limits{Concurrency: 1, FixedConcurrency: true}, 1},
		{"zero Limits, 8 at once", Limits{}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, calls := bigErrorThenOK(int64(tt.requests), http.StatusServiceUnavailable)
			srv := httptest.NewServer(h)
			defer srv.Close()
			tr := &Transport{Limits: tt.limits, Retry: RetryPolicy{Backoff: Backoff{Base: time.Millisecond, Cap: time.Millisecond}}}
			defer tr.CloseIdleConnections()
			// A deadline, not a tolerance: a deadlocked request fails
			// with it, a working one ends in milliseconds.
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			for range tt.requests {
				wg.Go(func() {
					req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
					resp, err := tr.RoundTrip(req)
					if err != nil {
						t.Errorf("RoundTrip: %v, want a retried 200", err)
						return
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(body) != "fine" {
						t.Errorf("got %d %.20q, want 200 fine", resp.StatusCode, body)
					}
				})
			}
			wg.Wait()
			if s := tr.Stats(); s.InFlight != 0 {
				t.Errorf("%d calls still in flight after every body was closed", s.InFlight)
			}
			if got, want := calls.Load(), int64(2*tt.requests); got != want {
				t.Errorf("the API saw %d calls, want %d", got, want)
			}
		})
	}
}

// TestTransportLastLargeErrorBodyIsWhole protects the caller's read of the
// last attempt's error body: only a response that is retried is cut short.
func TestTransportLastLargeErrorBodyIsWhole(t *testing.T) {
	h, _ := bigErrorThenOK(10, http.StatusServiceUnavailable)
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &Transport{
		Limits: Limits{Concurrency: 1, FixedConcurrency: true},
		Retry:  RetryPolicy{MaxAttempts: 2, Backoff: Backoff{Base: time.Millisecond, Cap: time.Millisecond}},
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if s := tr.Stats(); s.InFlight != 1 {
		t.Errorf("%d in flight while the last error body is unread, want 1", s.InFlight)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := maxErrorBody + 10<<10; resp.StatusCode != 503 || len(body) != want || err != nil {
		t.Errorf("got %d with %d bytes (%v), want 503 with all %d", resp.StatusCode, len(body), err, want)
	}
	if s := tr.Stats(); s.InFlight != 0 {
		t.Errorf("%d in flight after the body was read", s.InFlight)
	}
}

// closeRecorder is a request body that records whether it was closed.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

// TestTransportClosesTheRequestBody protects the http.RoundTripper rule
// that RoundTrip closes the request's body on every path, errors included.
func TestTransportClosesTheRequestBody(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		getBody bool
		halted  bool
	}{
		{"GetBody, sent", 10, true, false},
		{"GetBody, never admitted", 10, true, true},
		{"kept in memory, never admitted", 10, false, true},
		{"too large to keep, never admitted", 100, false, true},
		{"too large to keep, sent", 100, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
				tr := &Transport{Base: apitest.RoundTripper{Handler: h}, MaxBodyBuffer: 50}
				if tt.halted {
					tr.Halt(errors.New("stopped"))
				}
				payload := strings.Repeat("b", tt.size)
				body := &closeRecorder{Reader: strings.NewReader(payload)}
				req, _ := http.NewRequest("POST", "http://api.test/", body)
				if tt.getBody {
					req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(payload)), nil }
				}
				resp, err := tr.RoundTrip(req)
				if err == nil {
					resp.Body.Close()
				}
				if (err != nil) != tt.halted {
					t.Errorf("RoundTrip error %v, want an error %v", err, tt.halted)
				}
				synctest.Wait()
				if !body.closed.Load() {
					t.Errorf("the request body was not closed")
				}
			})
		})
	}
}

// TestTransportLeavesTheRequestAlone protects the rule that RoundTrip does
// not modify the request: a body too large to keep is streamed without
// replacing req.Body.
func TestTransportLeavesTheRequestAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
		tr := &Transport{Base: apitest.RoundTripper{Handler: h}, MaxBodyBuffer: 5}
		body := &closeRecorder{Reader: strings.NewReader("larger than five")}
		req, _ := http.NewRequest("POST", "http://api.test/", body)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if req.Body != io.ReadCloser(body) {
			t.Errorf("req.Body was replaced by a %T", req.Body)
		}
	})
}

// TestTransportUsageSurvivesACloseFromAnotherGoroutine protects aborting a
// stream, which closes its body from another goroutine while it is read,
// when the Transport reads usage from the body (run with -race).
func TestTransportUsageSurvivesACloseFromAnotherGoroutine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat(`data: {"usage":{"output_tokens":1}}`+"\n", 100))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	tr := &Transport{Usage: ScanUsage}
	defer tr.CloseIdleConnections()
	for range 20 {
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		read := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 512)
			for i := 0; ; i++ {
				if _, err := resp.Body.Read(buf); err != nil {
					return
				}
				if i == 10 {
					close(read)
				}
			}
		}()
		<-read
		resp.Body.Close() // from this goroutine, while the other reads
		<-done
	}
	if s := tr.Stats(); s.InFlight != 0 {
		t.Errorf("%d in flight after every stream was closed", s.InFlight)
	}
}

// TestTransportAttemptTimeoutAtTheHeadersDoesNotCutTheStream protects a
// response whose headers arrive as AttemptTimeout fires: the attempt either
// timed out (and is retried) or its body reads to the end, never a
// response whose body is already cancelled.
func TestTransportAttemptTimeoutAtTheHeadersDoesNotCutTheStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if calls.Add(1) == 1 {
				// The headers were on their way when the timer fired: a
				// base transport may still return them.
				time.Sleep(time.Second + time.Millisecond)
			}
			pr, pw := io.Pipe()
			go func() {
				select {
				case <-req.Context().Done():
					pw.CloseWithError(req.Context().Err())
				case <-time.After(time.Millisecond):
					io.WriteString(pw, "the whole stream")
					pw.Close()
				}
			}()
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: pr, Request: req}, nil
		})
		tr := &Transport{Base: base, AttemptTimeout: time.Second}
		resp, err := (&http.Client{Transport: tr}).Get("http://api.test/")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "the whole stream" || err != nil {
			t.Errorf("read %q, %v; want the whole stream", body, err)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestRoundTripInfoCarriesTheLastError protects RoundTripInfo.Err: the
// last attempt's StatusError with the API's message, or the transport's
// error.
func TestRoundTripInfoCarriesTheLastError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/bad":
				w.WriteHeader(400)
				io.WriteString(w, `{"error":{"message":"no such model","type":"invalid_request_error"}}`)
			case "/ok":
				io.WriteString(w, "fine")
			}
		})
		tr := &Transport{Base: apitest.RoundTripper{Handler: h}}
		var info RoundTripInfo
		req, _ := http.NewRequestWithContext(WithRoundTripInfo(t.Context(), &info), "GET", "http://api.test/bad", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var se *StatusError
		if !errors.As(info.Err, &se) || se.Status != 400 || se.Class != ClassFatal || se.Message != "invalid_request_error: no such model" {
			t.Errorf("info.Err = %#v, want the 400's StatusError with its message", info.Err)
		}

		info = RoundTripInfo{}
		req, _ = http.NewRequestWithContext(WithRoundTripInfo(t.Context(), &info), "GET", "http://api.test/ok", nil)
		if resp, err = tr.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if info.Err != nil || info.Attempts != 1 {
			t.Errorf("info %+v after a 200, want no error and 1 attempt", info)
		}

		info = RoundTripInfo{}
		refused := &Transport{Base: &flakyTransport{err: syscall.ECONNREFUSED}, Retry: RetryPolicy{MaxAttempts: 1}}
		(refused.Base.(*flakyTransport)).n.Store(1)
		req, _ = http.NewRequestWithContext(WithRoundTripInfo(t.Context(), &info), "GET", "http://api.test/ok", nil)
		if _, err = refused.RoundTrip(req); !errors.Is(info.Err, syscall.ECONNREFUSED) {
			t.Errorf("info.Err = %v, want the connection refusal", info.Err)
		}
	})
}

// TestTransportDoesNotRetryWhatNeverSucceeds protects 501 and 505 from
// retries: the server lacks the method or the protocol version.
func TestTransportDoesNotRetryWhatNeverSucceeds(t *testing.T) {
	for _, status := range []int{http.StatusNotImplemented, http.StatusHTTPVersionNotSupported} {
		synctest.Test(t, func(t *testing.T) {
			var calls atomic.Int64
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1); w.WriteHeader(status) })
			tr := &Transport{Base: apitest.RoundTripper{Handler: h}}
			resp, err := tr.RoundTrip(mustRequest(t, "http://api.test/"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != status || calls.Load() != 1 {
				t.Errorf("%d: got %d after %d calls, want it after 1", status, resp.StatusCode, calls.Load())
			}
		})
	}
}

// Transport.use finds a known gate without the Transport's mutex; a gate
// the sweep forgot meanwhile must not be used, or its calls would be
// counted, limited and paused apart from the gate that replaced it.
func TestTransportUseSkipsAForgottenGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
		tr := &Transport{Base: apitest.RoundTripper{Handler: h}}
		get := func(host string) {
			t.Helper()
			resp, err := tr.RoundTrip(mustRequest(t, "http://"+host+"/"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		get("a.test")
		first := tr.Gate("a.test")
		v, _ := tr.index.Load("a.test")
		old := v.(*keptGate)
		time.Sleep(2 * minGateMemory)
		for i := range minSweep + 1 { // enough new gates to sweep
			get(fmt.Sprintf("h%d.test", i))
		}
		if !old.isForgotten() || old.tryUse(0) || old.tryUse(gateStripes-1) {
			t.Fatalf("the idle gate was not swept (users %d)", old.uses[0].users.Load())
		}
		get("a.test")
		if g := tr.Gate("a.test"); g == first || g.Stats().Admitted != 1 {
			t.Errorf("a.test still goes through the forgotten gate, or its call was not counted by the new one")
		}
	})
}
