package proxy

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// DefaultListen is the address a Server listens on when given none:
// loopback, so that nothing off the host can use the API keys that
// clients send through it.
const DefaultListen = "127.0.0.1:8787"

// Server is the proxy: it listens on Addr and sends each request to the
// route its path belongs to, through that route's limits. Only the routes'
// upstreams are reachable: requests in absolute form and CONNECT are
// refused, and the Host header never chooses where a request goes.
//
// Set the fields, then Open; Shutdown or Close stop the server and wait
// for its goroutines. A Server serves once. Its methods are safe for
// concurrent use once it is open.
type Server struct {
	// Addr is the address to listen on; "" means DefaultListen.
	Addr string
	// AllowRemote lets Addr be other than a loopback address. Without
	// it Open refuses one.
	AllowRemote bool
	// Routes are the upstreams; at least one.
	Routes []Route
	// Logger receives one debug line per request and warnings; nil
	// means none. API keys are never logged.
	Logger *slog.Logger
	// BodyBudget is the most bytes of request bodies held in memory at
	// once by the requests waiting for admission or in flight, all
	// routes together (budget.go); 0 means DefaultBodyBudget.
	BodyBudget int64

	routes []*route // longest prefix first
	obs    *observer
	ln     net.Listener
	hs     *http.Server
	served chan error
}

// Open validates the routes and starts listening and serving.
func (s *Server) Open() error {
	if len(s.Routes) == 0 {
		return errors.New("proxy: no route")
	}
	addr := s.Addr
	if addr == "" {
		addr = DefaultListen
	}
	if !s.AllowRemote && !IsLoopback(addr) {
		return fmt.Errorf("proxy: listen address %q is not loopback: allow remote clients explicitly", addr)
	}
	if s.BodyBudget < 0 {
		return fmt.Errorf("proxy: body budget %d: want 0 (the default) or more", s.BodyBudget)
	}
	budget := newBodyBudget(cmp.Or(s.BodyBudget, DefaultBodyBudget))
	log := logger{s.Logger}
	seen := map[string]bool{}
	for _, r := range s.Routes {
		if err := r.validate(); err != nil {
			return err
		}
		if seen[r.Prefix] {
			return fmt.Errorf("proxy: two routes with prefix %q", r.Prefix)
		}
		seen[r.Prefix] = true
		rt := newRoute(r, log)
		rt.budget = budget
		s.routes = append(s.routes, rt)
	}
	sort.SliceStable(s.routes, func(i, j int) bool { return len(s.routes[i].Prefix) > len(s.routes[j].Prefix) })
	s.obs = newObserver(s.routes, s.route("/"), log)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	s.ln = ln
	s.hs = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.std(),
	}
	s.served = make(chan error, 1)
	s.obs.start()
	go func() { s.served <- s.hs.Serve(ln) }()
	return nil
}

// CheckListen reports what is wrong with addr as an address to listen
// on, nil when nothing is: it wants HOST:PORT with a port from 0 to 65535
// (net.Listen's own error, "address 99999: invalid port", named no flag
// or field).
func CheckListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		return fmt.Errorf("%q: want HOST:PORT with a port from 0 to 65535, such as %s", addr, DefaultListen)
	}
	return nil
}

// IsLoopback reports whether the listen address addr is on loopback only.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// URL returns the proxy's base URL, such as http://127.0.0.1:8787.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Shutdown stops accepting requests and waits until those queued and in
// flight finish or ctx ends; then it closes whatever is left.
func (s *Server) Shutdown(ctx context.Context) error {
	for _, r := range s.routes {
		r.live.cutAbandoned() // calls whose clients left: nobody waits for them
	}
	err := s.hs.Shutdown(ctx)
	if err != nil {
		s.answerQueued()
		s.hs.Close()
	}
	s.wait()
	return err
}

// Close stops the server at once: every connection is closed, so queued
// and in-flight requests end, freeing their places.
func (s *Server) Close() error {
	err := s.hs.Close()
	s.wait()
	return err
}

func (s *Server) wait() {
	if err := <-s.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger{s.Logger}.warn("serve", "error", err.Error())
	}
	s.served <- http.ErrServerClosed // for a second Close
	s.obs.close()
	for _, r := range s.routes {
		r.tr.CloseIdleConnections()
	}
}

// Stats returns each route's counters.
func (s *Server) Stats() []RouteStats {
	out := make([]RouteStats, len(s.routes))
	for i, r := range s.routes {
		out[i] = r.stats()
	}
	return out
}

// ServeHTTP serves one request: /healthz, or a route's.
func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch {
	case req.Method == http.MethodConnect:
		// Never a tunnel to anywhere.
		http.Error(w, "sluice proxy: CONNECT is not served: send requests to the proxy's own URL", http.StatusMethodNotAllowed)
		return
	case !strings.HasPrefix(req.RequestURI, "/"):
		// Absolute form (GET http://other/...) or '*': the proxy is not
		// a forward proxy.
		http.Error(w, "sluice proxy: only paths are served, not absolute URLs", http.StatusBadRequest)
		return
	case dotSegment(req.RequestURI):
		// Out of the upstream's base path: /api/../secret (dotpath.go).
		s.refuseDotSegment(w, req)
		return
	case req.URL.Path == "/healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
		return
	case s.obs.owns(req):
		// /metrics and the status page (status.go).
		s.obs.ServeHTTP(w, req)
		return
	}
	r := s.route(req.URL.Path)
	if r == nil {
		// JSON, as every other answer of the proxy's: clients parse
		// error bodies (outside review: this one was text).
		prefixes := make([]string, len(s.routes))
		for i, rt := range s.routes {
			prefixes[i] = cmp.Or(rt.Prefix, "/")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
			"type":    "not_found_error",
			"message": fmt.Sprintf("sluice proxy: no route for %s: the routes are %s", req.URL.Path, strings.Join(prefixes, ", ")),
		}})
		return
	}
	r.serve(w, req)
}

// route returns the route of path, nil when none serves it.
func (s *Server) route(path string) *route {
	for _, r := range s.routes {
		if r.Prefix == "" || path == r.Prefix || strings.HasPrefix(path, strings.TrimSuffix(r.Prefix, "/")+"/") {
			return r
		}
	}
	return nil
}

// serve sends req upstream through the route's gate, or refuses it.
func (r *route) serve(w http.ResponseWriter, req *http.Request) {
	begin := time.Now()
	info := new(sluice.RoundTripInfo)
	rec := &statusRecorder{ResponseWriter: w, streams: &r.streams}
	defer rec.ended()
	var a *admission
	var abort any // the ReverseProxy's panic, raised again once counted
	ctx := req.Context()
	if bad := ownHeaderError(req.Header); bad != "" {
		r.answer(rec, http.StatusBadRequest, "invalid_request_error", "", bad)
		r.obs.record(ctx, req, nil, outcomeError, info, rec.status, false)
		return
	}
	deadline := clientDeadline(req.Header, begin)
	kept, waited, refused, ok := r.keepBody(rec, req, begin, deadline)
	parent := sluice.WithRoundTripInfo(sluice.WithPriority(req.Context(), priority(req.Header)), info)
	if ok {
		parent = r.withTokenEstimate(parent, req, kept.bytes())
	}
	if ok {
		r.probeQuota(req, kept.bytes())
		a, ctx, ok = r.enqueue(parent, deadline, waited)
		var never error
		if !ok {
			never = r.neverAdmissible(req, kept.bytes())
		}
		switch {
		case never != nil:
			// Waiting would not help it: 413, as when the queue has room.
			ctx, refused = req.Context(), outcomeTooLarge
			r.overCapacity(rec, req, kept.bytes(), never)
		case !ok:
			ctx, refused = req.Context(), outcomeQueueFull
			r.refuse(rec, req, kept.bytes(), 0, "too many requests are waiting for the rate limit")
		default:
			a.info, a.body = info, kept
			abort = r.proxy(rec, req.WithContext(ctx))
			a.done()
			if a.state.Load() == admitted {
				r.noteHold(time.Since(a.begin) - time.Duration(a.wait.Load()))
			}
			if info.Class == sluice.ClassQuotaExhausted {
				r.halted(a, info.Err)
			}
		}
	}
	kept.release() // if its response never began
	r.obs.record(ctx, req, a, refused, info, rec.status, abort != nil)
	if r.log.enabled(slog.LevelDebug) {
		var wait time.Duration
		if a != nil {
			wait = time.Duration(a.wait.Load())
		}
		// The path, never the query, which may carry a key.
		args := []any{"route", r.obs.label, "method", req.Method, "path", req.URL.Path,
			"status", rec.status, "wait", wait, "latency", time.Since(begin)}
		if abort != nil {
			args = append(args, "aborted", abortCause(req))
		}
		r.log.debug("request", args...)
	}
	if abort != nil {
		panic(abort)
	}
}

// proxy sends req through the ReverseProxy, and returns
// http.ErrAbortHandler when it panicked with it, nil when it returned.
// The ReverseProxy panics with
// http.ErrAbortHandler when copying the response fails once it has begun
// (the client went away mid-stream, or the upstream cut its stream): the
// only way to tell net/http to break the connection rather than end the
// response as if complete. Recovered here so that the request is still
// ended, counted and logged before the panic goes on to net/http.
// Any other panic, a bug, goes on at once, with the stack it happened in.
func (r *route) proxy(w http.ResponseWriter, req *http.Request) (abort any) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			abort = v
		}
	}()
	r.rp.ServeHTTP(w, req)
	return nil
}

// abortCause names who ended a response cut short.
func abortCause(req *http.Request) string {
	if req.Context().Err() != nil {
		return "client gone"
	}
	return "upstream stream broken"
}

// statusRecorder remembers the status written through it, and keeps an
// event stream where a shutdown can cut it (streamcut.go).
type statusRecorder struct {
	http.ResponseWriter
	status  int
	streams *liveStreams // the route's
	stream  *liveStream  // nil unless the response is an event stream
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
		if s.streams != nil && code == http.StatusOK && isEventStream(s.Header()) {
			s.stream = &liveStream{}
			s.streams.add(s)
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	if s.stream != nil {
		return s.stream.write(s.ResponseWriter, b)
	}
	return s.ResponseWriter.Write(b)
}

// FlushError flushes, as http.ResponseController asks.
func (s *statusRecorder) FlushError() error {
	if s.stream != nil {
		return s.stream.flush(s.ResponseWriter)
	}
	return http.NewResponseController(s.ResponseWriter).Flush()
}

// ended says the handler is done with the response.
func (s *statusRecorder) ended() {
	if s.stream != nil {
		s.stream.end()
		s.streams.remove(s)
	}
}

// Unwrap lets http.ResponseController reach what else the writer does.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logger is a nil-safe *slog.Logger.
type logger struct{ l *slog.Logger }

func (l logger) enabled(level slog.Level) bool {
	return l.l != nil && l.l.Enabled(context.Background(), level)
}

func (l logger) debug(msg string, args ...any) {
	if l.l != nil {
		l.l.Debug(msg, args...)
	}
}

func (l logger) info(msg string, args ...any) {
	if l.l != nil {
		l.l.Info(msg, args...)
	}
}

func (l logger) warn(msg string, args ...any) {
	if l.l != nil {
		l.l.Warn(msg, args...)
	}
}

// std is a *log.Logger for net/http's own messages, at warn level.
func (l logger) std() *log.Logger {
	if l.l == nil {
		return log.New(io.Discard, "", 0)
	}
	return slog.NewLogLogger(l.l.Handler(), slog.LevelWarn)
}
