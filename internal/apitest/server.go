// Package apitest is a strict rate-limited HTTP API for tests and
// benchmarks: a sliding-window request limit and a concurrency limit,
// enforced with plain code that shares nothing with sluice's limiters, so
// that a bug in them cannot hide itself here.
package apitest

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Server answers every request after Latency, refusing with 429 any
// request that would make more than Limit in any Window, or more than
// Concurrency in flight. It counts what it saw.
//
// Set the fields before serving. A Server is safe for concurrent use.
type Server struct {
	Limit       int           // requests per Window; 0: no limit
	Window      time.Duration // default 1s
	Concurrency int           // requests in flight; 0: no limit
	Latency     time.Duration // how long each accepted request takes
	// Headers sends the limit as IETF RateLimit-Policy/RateLimit and
	// X-RateLimit-* headers on every response.
	Headers bool
	// RetryAfter sends Retry-After (whole seconds, rounded up) on 429s.
	RetryAfter bool
	// Status, when set, answers every request with it after Latency (to
	// simulate a failing API), with Body as the body.
	Status int
	Body   string

	mu       sync.Mutex
	arrivals []time.Time // accepted requests in the last window, oldest first
	inFlight int

	requests   atomic.Int64
	accepted   atomic.Int64
	overRate   atomic.Int64
	overConc   atomic.Int64
	peakFlight atomic.Int64
}

// Counts is what a Server saw.
type Counts struct {
	Requests       int64 // everything that arrived
	Accepted       int64
	OverRate       int64 // refused: would break the window limit
	OverConcurrent int64 // refused: too many in flight
	PeakInFlight   int64
}

// Throttled returns the number of 429s sent.
func (c Counts) Throttled() int64 { return c.OverRate + c.OverConcurrent }

// Counts returns what the server saw so far.
func (s *Server) Counts() Counts {
	return Counts{
		Requests: s.requests.Load(), Accepted: s.accepted.Load(),
		OverRate: s.overRate.Load(), OverConcurrent: s.overConc.Load(),
		PeakInFlight: s.peakFlight.Load(),
	}
}

func (s *Server) window() time.Duration {
	if s.Window <= 0 {
		return time.Second
	}
	return s.Window
}

// ServeHTTP enforces the limits on one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	now := time.Now()
	s.mu.Lock()
	// Forget arrivals that have left the window (t-W, t].
	cut := 0
	for cut < len(s.arrivals) && !s.arrivals[cut].After(now.Add(-s.window())) {
		cut++
	}
	s.arrivals = s.arrivals[cut:]
	if s.Limit > 0 && len(s.arrivals) >= s.Limit {
		wait := s.arrivals[0].Add(s.window()).Sub(now)
		remaining, reset := s.quotaLocked(now)
		s.mu.Unlock()
		s.overRate.Add(1)
		s.refuse(w, wait, remaining, reset, "rate limit exceeded")
		return
	}
	if s.Concurrency > 0 && s.inFlight >= s.Concurrency {
		remaining, reset := s.quotaLocked(now)
		s.mu.Unlock()
		s.overConc.Add(1)
		s.refuse(w, time.Second, remaining, reset, "Number of concurrent connections has exceeded your rate limit")
		return
	}
	s.arrivals = append(s.arrivals, now)
	s.inFlight++
	if int64(s.inFlight) > s.peakFlight.Load() {
		s.peakFlight.Store(int64(s.inFlight))
	}
	remaining, reset := s.quotaLocked(now)
	s.mu.Unlock()
	s.accepted.Add(1)

	if s.Latency > 0 {
		time.Sleep(s.Latency)
	}
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
	s.writeHeaders(w, remaining, reset)
	if s.Status != 0 {
		w.WriteHeader(s.Status)
		fmt.Fprint(w, s.Body)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"ok":true}`)
}

// quotaLocked returns what is left of the window and when the oldest
// arrival leaves it. s.mu is held.
func (s *Server) quotaLocked(now time.Time) (int, time.Duration) {
	if s.Limit == 0 {
		return 0, 0
	}
	remaining := max(s.Limit-len(s.arrivals), 0)
	reset := time.Duration(0)
	if len(s.arrivals) > 0 {
		reset = s.arrivals[0].Add(s.window()).Sub(now)
	}
	return remaining, reset
}

func (s *Server) writeHeaders(w http.ResponseWriter, remaining int, reset time.Duration) {
	if !s.Headers || s.Limit == 0 {
		return
	}
	h := w.Header()
	secs := int(math.Ceil(reset.Seconds()))
	win := int(math.Ceil(s.window().Seconds()))
	h.Set("RateLimit-Policy", fmt.Sprintf("%d;w=%d", s.Limit, win))
	h.Set("RateLimit", fmt.Sprintf("limit=%d, remaining=%d, reset=%d", s.Limit, remaining, secs))
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.Itoa(secs))
}

func (s *Server) refuse(w http.ResponseWriter, wait time.Duration, remaining int, reset time.Duration, msg string) {
	s.writeHeaders(w, remaining, reset)
	if s.RetryAfter {
		w.Header().Set("Retry-After", strconv.Itoa(max(int(math.Ceil(wait.Seconds())), 1)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprintf(w, `{"type":"error","error":{"type":"rate_limit_error","message":%q}}`, msg)
}
