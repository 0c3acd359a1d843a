package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/mock"
	"github.com/sluicehq/sluice/internal/proxy"
)

// stepStream is an upstream that sends the status, the headers and one
// event, then the second event only when told, then waits for the client
// to go.
type stepStream struct {
	*httptest.Server
	more  chan struct{}
	ended chan struct{} // closed when the handler returns
}

func startStepStream(t *testing.T, contentType string) *stepStream {
	s := &stepStream{more: make(chan struct{}), ended: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(s.ended)
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Anthropic-Ratelimit-Requests-Remaining", "41")
		io.WriteString(w, "event: one\ndata: {}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-s.more:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "event: two\ndata: {}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(s.Close)
	return s
}

// The status, headers and first event reach the client while the upstream
// is still streaming; the upstream's rate-limit headers pass unprefixed.
// A client that leaves mid-stream frees its slot at once.
// Any streamed body, not only SSE, is flushed as it comes. (ReverseProxy
// flushes bodies of unknown length at once whatever its FlushInterval, so
// this guards the proxy's wiring rather than that setting.)
func TestStreamPassesThroughUnbufferedAndFreesItsSlotWhenTheClientGoes(t *testing.T) {
	for _, ct := range []string{"text/event-stream", "application/x-ndjson"} {
		t.Run(ct, func(t *testing.T) { testStream(t, ct) })
	}
}

func testStream(t *testing.T, contentType string) {
	up := startStepStream(t, contentType)
	p := startProxy(t, proxy.Route{Upstream: mustURL(t, up.URL), Preset: proxy.Anthropic,
		Limits: sluice.Limits{Concurrency: 1, FixedConcurrency: true}})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", p.URL()+"/v1/messages", strings.NewReader(haikuBody))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != contentType {
		t.Fatalf("got %d %q, want 200 %s", resp.StatusCode, resp.Header.Get("Content-Type"), contentType)
	}
	if got := resp.Header.Get("Anthropic-Ratelimit-Requests-Remaining"); got != "41" {
		t.Errorf("upstream rate-limit header: got %q, want 41", got)
	}
	br := bufio.NewReader(resp.Body)
	if got := readEvent(t, br); got != "event: one\ndata: {}\n\n" {
		t.Fatalf("first event: %q", got)
	}
	close(up.more) // the second event exists only now
	if got := readEvent(t, br); got != "event: two\ndata: {}\n\n" {
		t.Fatalf("second event: %q", got)
	}
	if s := stats(p); s.Gates.InFlight != 1 {
		t.Fatalf("mid-stream: %d in flight, want 1", s.Gates.InFlight)
	}
	cancel() // the client goes away mid-stream
	<-up.ended
	eventually(t, "the slot is free", func() bool { return stats(p).Gates.InFlight == 0 })
}

func readEvent(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			t.Fatalf("reading event: %v after %q", err, b.String())
		}
		if line == "\n" {
			return b.String()
		}
	}
}

// The mock's real stream passes through whole.
func TestMockStreamPassesThrough(t *testing.T) {
	api := startMock(t, mock.Config{Style: mock.Anthropic, Seed: 1, OutputRate: 2000})
	p := startProxy(t, proxy.Route{Upstream: mustURL(t, api.URL())})
	body := `{"model":"claude-haiku-4-5","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"Hello"}]}`
	r := send(t.Context(), "POST", p.URL()+"/v1/messages", "", map[string]string{"Content-Type": "application/json"}, body)
	if r.status != 200 || !strings.Contains(r.body, "event: message_start") || !strings.HasSuffix(strings.TrimSpace(r.body), `{"type":"message_stop"}`) {
		t.Errorf("got %d %v\n%s\nwant a whole stream", r.status, r.err, r.body)
	}
	if s := stats(p); s.Gates.InFlight != 0 {
		t.Errorf("%d in flight after the stream, want 0", s.Gates.InFlight)
	}
}

// Nothing but the upstream is reachable: absolute-form requests and
// CONNECT are refused, and a Host header does not choose the upstream.
func TestOnlyTheUpstreamIsReachable(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	up := startHeld(t)
	close(up.release)
	p := startProxy(t, proxy.Route{Upstream: mustURL(t, up.URL)})
	otherHost := strings.TrimPrefix(other.URL, "http://")
	for _, c := range []struct {
		name, raw string
		want      int
	}{
		{"absolute form", "GET " + other.URL + "/x HTTP/1.1\r\nHost: " + otherHost + "\r\n\r\n", 400},
		{"absolute form, proxy's host", "GET " + other.URL + "/x HTTP/1.1\r\nHost: " + strings.TrimPrefix(p.URL(), "http://") + "\r\n\r\n", 400},
		{"connect", "CONNECT " + otherHost + " HTTP/1.1\r\nHost: " + otherHost + "\r\n\r\n", 405},
		// net/http answers OPTIONS * itself, with nothing sent on.
		{"asterisk", "OPTIONS * HTTP/1.1\r\nHost: " + otherHost + "\r\n\r\n", 200},
		{"host header", "GET /x HTTP/1.1\r\nHost: " + otherHost + "\r\nX-Test-Id: host\r\n\r\n", 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := rawStatus(t, p.URL(), c.raw); got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other server got %d requests, want 0", n)
	}
	upHost := strings.TrimPrefix(up.URL, "http://")
	if got := up.hosts; len(got) != 1 || got[0] != upHost {
		t.Errorf("upstream saw Host %q, want [%s]", got, upHost)
	}
}

// rawStatus sends raw over a new connection and returns the status.
func rawStatus(t *testing.T, base, raw string) int {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, raw)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// insufficient_quota halts the model's gate: the client that met it gets
// the API's answer, later ones a clear error of the proxy's, unsent.
func TestQuotaExhaustedHaltsWithAClearError(t *testing.T) {
	api := startMock(t, mock.Config{Style: mock.OpenAI, Seed: 1, Quota: 1})
	p := startProxy(t, proxy.Route{Upstream: mustURL(t, api.URL()), Preset: proxy.OpenAI})
	body := `{"model":"gpt-4o-mini","max_tokens":20,"messages":[{"role":"user","content":"Hello"}]}`
	h := map[string]string{"Content-Type": "application/json"}
	statuses := []int{}
	var last result
	for range 3 {
		last = send(t.Context(), "POST", p.URL()+"/v1/chat/completions", "", h, body)
		statuses = append(statuses, last.status)
	}
	if want := []int{200, 429, 429}; !equal(statuses, want) {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
	var v struct {
		Error struct{ Type, Code, Message string }
	}
	json.Unmarshal([]byte(last.body), &v)
	if v.Error.Code != "insufficient_quota" || !strings.Contains(v.Error.Message, "sluice proxy") || !strings.Contains(v.Error.Message, "quota") {
		t.Errorf("third answer %s: want the proxy's insufficient_quota", last.body)
	}
	if n := api.Stats().Requests; n != 2 {
		t.Errorf("upstream got %d requests, want 2: the halted gate sends none", n)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// /healthz answers ok, and is not sent upstream.
func TestHealthz(t *testing.T) {
	up := startHeld(t)
	p := startProxy(t, proxy.Route{Upstream: mustURL(t, up.URL)})
	r := send(t.Context(), "GET", p.URL()+"/healthz", "", nil, "")
	if r.status != 200 || r.body != "ok\n" {
		t.Errorf("got %d %q, want 200 ok", r.status, r.body)
	}
	if len(up.seen()) != 0 {
		t.Errorf("upstream saw %v", up.seen())
	}
}

// The log has a line per request and never a key.
func TestLogsNeverShowKeys(t *testing.T) {
	var buf bytes.Buffer
	up := startHeld(t)
	close(up.release)
	s := &proxy.Server{Addr: "127.0.0.1:0", Routes: []proxy.Route{{Upstream: mustURL(t, up.URL), PerKey: true}},
		Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	send(t.Context(), "GET", s.URL()+"/x?key=sk-query-secret", "", map[string]string{"X-Api-Key": "sk-header-secret"}, "")
	send(t.Context(), "GET", s.URL()+"/y", "", map[string]string{"Authorization": "Bearer sk-bearer-secret"}, "")
	s.Close()
	out := buf.String()
	if n := strings.Count(out, "msg=request"); n != 2 {
		t.Errorf("%d request lines, want 2:\n%s", n, out)
	}
	for _, secret := range []string{"sk-query-secret", "sk-header-secret", "sk-bearer-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows %s:\n%s", secret, out)
		}
	}
}

// Shutdown lets queued and in-flight requests finish.
func TestShutdownDrainsQueuedAndInFlight(t *testing.T) {
	up := startHeld(t)
	s, a, b := oneInFlightOneQueued(t, up)
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(t.Context()) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with requests in progress", err)
	default:
	}
	close(up.release)
	for _, ch := range []<-chan result{a, b} {
		if r := <-ch; r.status != 200 {
			t.Errorf("%d %v, want 200", r.status, r.err)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// When the grace runs out, a request still queued was never sent: it
// gets a 503 with Retry-After, where its connection was closed under it
// (a client saw a socket error), and the proxy counts it.
func TestShutdownAnswersThoseStillQueued(t *testing.T) {
	up := startHeld(t)
	t.Cleanup(func() { close(up.release) })
	s, a, b := oneInFlightOneQueued(t, up)
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // no grace at all
	if err := s.Shutdown(ctx); err == nil {
		t.Error("Shutdown with requests unfinished: nil error, want the grace's")
	}
	rb := <-b
	if rb.status != http.StatusServiceUnavailable || rb.header.Get("Retry-After") == "" || !strings.Contains(rb.body, "never sent") {
		t.Errorf("queued request at the end of the grace: %d %v, Retry-After %q, body %q; want 503 with Retry-After, saying it was never sent",
			rb.status, rb.err, rb.header.Get("Retry-After"), rb.body)
	}
	// The request at the upstream is cut too, with an answer saying it
	// was sent (outside review: its connection was closed, no answer).
	if ra := <-a; ra.status != http.StatusServiceUnavailable || ra.header.Get("Retry-After") == "" || !strings.Contains(ra.body, "sent upstream once") {
		t.Errorf("in-flight request at the end of the grace: %d %v, body %q; want 503 with Retry-After, saying it was sent", ra.status, ra.err, ra.body)
	}
}

// A request whose first attempt reached the upstream and lost its
// connection, and whose retry waits out its backoff when the grace runs
// out, may have been seen upstream: its answer says it was sent, rather
// than that it never was, and comes at once, not after the backoff.
// (Had the upstream answered, the client would get that answer.)
func TestShutdownAnswersARetryWaiting(t *testing.T) {
	var sent atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // no answer: the client sees the connection end
		}
	}))
	t.Cleanup(up.Close)
	// A backoff of an hour (full jitter): the retry is still waiting
	// when the proxy stops.
	retry := sluice.RetryPolicy{Backoff: sluice.Backoff{Base: time.Hour, Cap: time.Hour}}
	s := &proxy.Server{Addr: "127.0.0.1:0", Routes: []proxy.Route{{Upstream: mustURL(t, up.URL), Retry: retry}}}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	a := goSend(t.Context(), "GET", s.URL()+"/x", "a", nil, "")
	eventually(t, "the first attempt is answered", func() bool { return sent.Load() == 1 })
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // no grace at all
	begin := time.Now()
	s.Shutdown(ctx)
	r := <-a
	if r.status != http.StatusServiceUnavailable || strings.Contains(r.body, "never sent") || !strings.Contains(r.body, "sent upstream once") {
		t.Errorf("retry waiting at the end of the grace: %d %v, body %q; want 503 saying it was sent upstream once", r.status, r.err, r.body)
	}
	if took := time.Since(begin); took > 10*time.Second {
		t.Errorf("answered %v after the shutdown; want at once, not after the backoff", took)
	}
	if n := sent.Load(); n != 1 {
		t.Errorf("upstream saw %d attempts; want 1", n)
	}
}

// oneInFlightOneQueued opens a proxy to up that lets one request in
// flight, and sends two: a, in flight, and b, queued behind it.
func oneInFlightOneQueued(t *testing.T, up *held) (s *proxy.Server, a, b <-chan result) {
	t.Helper()
	s = &proxy.Server{Addr: "127.0.0.1:0", Routes: []proxy.Route{{Upstream: mustURL(t, up.URL),
		Limits: sluice.Limits{Concurrency: 1, FixedConcurrency: true}}}}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	a = goSend(t.Context(), "GET", s.URL()+"/x", "a", nil, "")
	eventually(t, "a is in flight", func() bool { return stats(s).Gates.InFlight == 1 })
	b = goSend(t.Context(), "GET", s.URL()+"/x", "b", nil, "")
	eventually(t, "b is queued", func() bool { return stats(s).Gates.Waiting == 1 })
	return s, a, b
}

// Open refuses a non-loopback address unless told to allow it.
func TestOpenRefusesRemoteUnlessAllowed(t *testing.T) {
	up := startHeld(t)
	for _, c := range []struct {
		addr  string
		allow bool
		ok    bool
	}{
		{"127.0.0.1:0", false, true},
		{"[::1]:0", false, true},
		{"localhost:0", false, true},
		{":0", false, false},
		{"0.0.0.0:0", false, false},
		{"0.0.0.0:0", true, true},
	} {
		s := &proxy.Server{Addr: c.addr, AllowRemote: c.allow, Routes: []proxy.Route{{Upstream: mustURL(t, up.URL)}}}
		err := s.Open()
		if err == nil {
			s.Close()
		}
		if (err == nil) != c.ok {
			t.Errorf("%s allow=%v: Open %v, want ok=%v", c.addr, c.allow, err, c.ok)
		}
	}
}
