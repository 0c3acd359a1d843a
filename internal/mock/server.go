package mock

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is a mock API. Serve it with Start, or call ServeHTTP yourself
// (from httptest, an in-process RoundTripper, or a test under
// testing/synctest). It is safe for concurrent use; one mutex guards its
// limits, counters and random generators. A request costs the mock about
// 10µs of CPU (generic) to 30µs (a message or chat completion), besides
// HTTP.
type Server struct {
	cfg  Config
	api  dialect
	seed uint64
	done chan struct{} // closed by Close: waits stop

	mu          sync.Mutex
	closed      bool
	requests    *bucket
	input       *bucket
	output      *bucket
	tokens      *bucket
	inFlight    int64
	arriving    int64 // requests being handled, refused ones too
	openConns   int64 // connections open (started servers only)
	quotaUsed   int64
	ids         uint64
	faultRand   *rand.Rand
	latencyRand *rand.Rand
	contentRand *rand.Rand
	stats       Stats

	handlers sync.WaitGroup // ServeHTTP calls in progress
	conns    sync.WaitGroup // connections of the HTTP server, until closed

	// Set by Start.
	http   *http.Server
	url    string
	served chan struct{} // closed when Serve returns
}

// dialect is what differs between the styles: routes, rate-limit headers
// and error bodies.
type dialect interface {
	// route serves one request that is not for the stats path.
	route(w http.ResponseWriter, r *http.Request)
	// rateHeaders sets the style's rate-limit headers from snap.
	rateHeaders(h http.Header, snap snapshot)
	// throttled answers a request refused by ref.
	throttled(w http.ResponseWriter, ref refusal)
	// failed answers an injected failure.
	failed(w http.ResponseWriter, status int)
	// failStatuses are the statuses Fail picks from.
	failStatuses() []int
}

// statsPath serves Stats as JSON.
const statsPath = "/__stats"

// maxBody bounds the request bodies the mock reads.
const maxBody = 32 << 20

// New returns a Server for cfg, or an error naming the field of cfg that
// makes no sense. Its limits start full.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	seed := uint64(cfg.Seed)
	if seed == 0 {
		seed = rand.Uint64()
	}
	now := time.Now()
	s := &Server{
		cfg:         cfg,
		seed:        seed,
		done:        make(chan struct{}),
		requests:    newBucket(cfg.Requests, now),
		faultRand:   rand.New(rand.NewPCG(seed, 1)),
		latencyRand: rand.New(rand.NewPCG(seed, 2)),
		contentRand: rand.New(rand.NewPCG(seed, 3)),
		stats:       Stats{Throttled: map[string]int64{}},
	}
	switch cfg.Style {
	case Anthropic:
		s.api = anthropicAPI{s}
		s.input = newBucket(cfg.InputTokens, now)
		s.output = newBucket(cfg.OutputTokens, now)
		if cfg.InputTokens.IsZero() && cfg.OutputTokens.IsZero() {
			s.tokens = newBucket(cfg.Tokens, now)
		}
	case OpenAI:
		s.api = openAIAPI{s}
		s.tokens = newBucket(cfg.Tokens, now)
	default:
		s.api = genericAPI{s}
	}
	return s, nil
}

// Start returns a Server for cfg serving HTTP on a free loopback port, in a
// goroutine it owns until Close.
func Start(cfg Config) (*Server, error) { return StartOn(cfg, "127.0.0.1:0") }

// StartOn is Start on a given address, such as "127.0.0.1:8787".
func StartOn(cfg Config, addr string) (*Server, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.url = "http://" + ln.Addr().String()
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: time.Minute, ConnState: s.connState}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		s.http.Serve(ln) // returns ErrServerClosed after Close
	}()
	return s, nil
}

// connState tracks the HTTP server's connections, so that Close can wait
// for the goroutine serving each one. Serve reports StateNew before it
// returns; every connection ends closed or hijacked.
func (s *Server) connState(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		s.conns.Add(1)
		s.mu.Lock()
		s.openConns++
		s.stats.PeakConnections = max(s.stats.PeakConnections, s.openConns)
		s.mu.Unlock()
	case http.StateClosed, http.StateHijacked:
		s.mu.Lock()
		s.openConns--
		s.mu.Unlock()
		s.conns.Done()
	}
}

// URL returns the base URL of a started Server, such as
// "http://127.0.0.1:43127", or "" for one made with New.
func (s *Server) URL() string { return s.url }

// Close stops a started Server's listener and connections, cuts short the
// requests being served and waits until every one of its goroutines and
// ServeHTTP calls has returned. Requests that arrive later get 503. Close
// may be called more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	// Connections first, so that no client reads an answer cut short.
	var err error
	if s.http != nil {
		if err = s.http.Close(); errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	close(s.done)
	if s.http != nil {
		<-s.served
		s.conns.Wait()
	}
	s.handlers.Wait()
	return err
}

// ServeHTTP answers one request in the configured style, or with Stats at
// GET /__stats.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == statsPath {
		s.serveStats(w, r)
		return
	}
	if !s.enter() {
		http.Error(w, "mock: server closed", http.StatusServiceUnavailable)
		return
	}
	defer s.handlers.Done()
	defer s.leave()
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	s.api.route(w, r)
}

// leave counts a request out.
func (s *Server) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.arriving--
}

// enter counts a request in, unless the server is closed.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.handlers.Add(1)
	s.stats.Requests++
	s.arriving++
	s.stats.PeakArriving = max(s.stats.PeakArriving, s.arriving)
	return true
}

// call runs a validated request that will cost c: admission, latency,
// fault injection, and then answer, which must write the successful
// response with a reply.
func (s *Server) call(w http.ResponseWriter, r *http.Request, c cost, answer func(*reply)) {
	ref, ok := s.admit(c)
	if !ok {
		s.api.throttled(w, ref)
		return
	}
	defer s.release()

	f := s.rollFault()
	if !s.pause(r.Context(), s.sampleLatency()) {
		s.refund(c, func(st *Stats) { st.Canceled++ })
		if s.closing() {
			// Only a direct caller of ServeHTTP can still read this: a
			// served connection is closed already.
			http.Error(w, "mock: server closed", http.StatusServiceUnavailable)
		}
		return
	}
	switch {
	case f.status != 0:
		s.refund(c, func(st *Stats) { st.Failed++ })
		s.api.failed(w, f.status)
		return
	case f.reset:
		s.refund(c, func(st *Stats) { st.Resets++ })
		resetConnection(w)
		return
	}
	answer(&reply{s: s, w: w, rc: http.NewResponseController(w), ctx: r.Context(), cost: c, slow: f.slow})
}

// closing reports whether Close has been called.
func (s *Server) closing() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// pause waits d and reports whether it did: false if the request's client
// went away or the server closed first.
func (s *Server) pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.done:
	}
	return false
}

// sampleLatency draws the time to first byte of one request.
func (s *Server) sampleLatency() time.Duration {
	if s.cfg.Latency.kind == noLatency {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.Latency.Sample(s.latencyRand)
}

// count updates the counters under the lock.
func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// rateHeaders sets the style's rate-limit headers from snap, unless the
// API is one that sends none (Config.NoRateLimitHeaders).
func (s *Server) rateHeaders(h http.Header, snap snapshot) {
	if !s.cfg.NoRateLimitHeaders {
		s.api.rateHeaders(h, snap)
	}
}

// writeJSON answers with status and v as JSON, with the style's rate-limit
// headers from snap (or from now, when snap is nil).
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any, snap *snapshot) {
	if snap == nil {
		now := s.snapshot()
		snap = &now
	}
	s.rateHeaders(w.Header(), *snap)
	w.Header().Set("Content-Type", "application/json")
	b, _ := json.Marshal(v)
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// invalid answers a request the API refuses to read (400, 404, 405, 413).
func (s *Server) invalid(w http.ResponseWriter, status int, v any) {
	s.count(func(st *Stats) { st.Invalid++ })
	s.writeJSON(w, status, v, nil)
}

// readBody reads a request's body. It fails with 413 for a body over
// maxBody and with 400 for one that could not be read.
func readBody(r *http.Request) ([]byte, int, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, err
		}
		return nil, http.StatusBadRequest, err
	}
	return b, 0, nil
}
