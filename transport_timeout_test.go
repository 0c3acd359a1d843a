package sluice

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The Transport's own base enforces AttemptTimeout as its
// ResponseHeaderTimeout (transport.go says why). These tests talk to a
// loopback server, as synctest cannot wait on real sockets; they assert
// what a timeout is, never how long it took.

// TestTransportAttemptTimeoutOwnBase protects a nil Base's AttemptTimeout:
// a server that never answers makes each attempt fail as a transient
// timeout, retried, and the error names the timeout and matches
// context.DeadlineExceeded, as with a Base of the caller's.
func TestTransportAttemptTimeoutOwnBase(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	tr := &Transport{
		AttemptTimeout: 50 * time.Millisecond,
		Retry:          RetryPolicy{MaxAttempts: 2, Backoff: Backoff{Base: time.Millisecond, Cap: time.Millisecond}},
	}
	defer tr.CloseIdleConnections()
	if !tr.initialized().baseTimesHeaders {
		t.Fatal("a nil Base with an AttemptTimeout: the base does not time the headers")
	}
	var info RoundTripInfo
	req, _ := http.NewRequestWithContext(WithRoundTripInfo(context.Background(), &info), "GET", srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("RoundTrip = %d, want a timeout", resp.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "50ms") {
		t.Errorf("err = %v, want one matching context.DeadlineExceeded and naming 50ms", err)
	}
	if info.Attempts != 2 || info.Class != ClassTransient {
		t.Errorf("%d attempts, class %v; want 2, transient", info.Attempts, info.Class)
	}
	if got := ClassOf(err); got != ClassTransient {
		t.Errorf("ClassOf(err) = %v, want transient", got)
	}
}

// TestTransportAttemptTimeoutOwnBaseDoesNotCutASlowBody protects a stream
// read from a nil Base: headers in time, then a body slower than
// AttemptTimeout, which must come through whole.
func TestTransportAttemptTimeoutOwnBaseDoesNotCutASlowBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for range 3 {
			time.Sleep(40 * time.Millisecond)
			io.WriteString(w, "chunk ")
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	tr := &Transport{AttemptTimeout: 30 * time.Millisecond}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || strings.Count(string(body), "chunk") != 3 {
		t.Fatalf("read %q, %v; want 3 chunks over 120ms despite a 30ms attempt timeout", body, err)
	}
}

// TestTransportAttemptTimeoutCustomBaseKeepsItsContext protects the
// other path: a Base of the caller's knows nothing of AttemptTimeout, so
// the attempt's own context must still bound the wait.
func TestTransportAttemptTimeoutCustomBaseKeepsItsContext(t *testing.T) {
	var sawDeadline bool
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		<-req.Context().Done()
		sawDeadline = context.Cause(req.Context()) == errNoHeaders
		return nil, req.Context().Err()
	})
	tr := &Transport{Base: base, AttemptTimeout: 10 * time.Millisecond, Retry: RetryPolicy{MaxAttempts: 1}}
	if tr.initialized().baseTimesHeaders {
		t.Fatal("a Base of the caller's was taken to time the headers")
	}
	_, err := (&http.Client{Transport: tr}).Get("http://api.test/")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "10ms") || !sawDeadline {
		t.Errorf("err = %v (the base saw the attempt's timer: %v); want a deadline naming 10ms", err, sawDeadline)
	}
}

// headerTimingBase is a Base that says it times the headers itself.
type headerTimingBase struct {
	roundTripFunc
	timeout time.Duration
}

func (b headerTimingBase) ResponseHeaderTimeout() time.Duration { return b.timeout }

// TestTransportAttemptTimeoutBaseThatTimesHeaders protects a Base that
// says it bounds the wait for the headers itself (the batch runner's, which
// times it on its HTTP/1 connections): its attempts go out on the
// caller's context, with no context and timer of the Transport's, and
// its timeout reads as the Transport's own; a Base timing another
// duration is not taken at its word.
func TestTransportAttemptTimeoutBaseThatTimesHeaders(t *testing.T) {
	late := &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr("sluice: timeout awaiting response headers")}
	tests := []struct {
		says      time.Duration
		wantTimes bool
	}{
		{says: 10 * time.Millisecond, wantTimes: true},
		{says: 20 * time.Millisecond, wantTimes: false},
		{says: 0, wantTimes: false},
	}
	for _, tt := range tests {
		ctx := context.Background()
		var own bool
		base := headerTimingBase{timeout: tt.says, roundTripFunc: func(req *http.Request) (*http.Response, error) {
			// A context that can end is the Transport's own timer's
			// (a trace on the caller's context cannot end).
			own = req.Context().Done() != nil
			if own {
				<-req.Context().Done()
				return nil, req.Context().Err()
			}
			return nil, late
		}}
		tr := &Transport{Base: base, AttemptTimeout: 10 * time.Millisecond, Retry: RetryPolicy{MaxAttempts: 1}}
		if got := tr.initialized().baseTimesHeaders; got != tt.wantTimes {
			t.Errorf("a Base timing %v, AttemptTimeout 10ms: taken to time the headers %v, want %v", tt.says, got, tt.wantTimes)
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://api.test/", nil)
		_, err := tr.RoundTrip(req)
		if own == tt.wantTimes {
			t.Errorf("a Base timing %v: the attempt had a context of its own %v, want %v", tt.says, own, !tt.wantTimes)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "10ms") || ClassOf(err) != ClassTransient {
			t.Errorf("a Base timing %v: err = %v (%v); want a transient deadline naming 10ms", tt.says, err, ClassOf(err))
		}
	}
}

// TestHeadersTimedOut protects the recognition of net/http's header
// timeouts, HTTP/1 and HTTP/2, known by their words.
func TestHeadersTimedOut(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{timeoutErr("net/http: timeout awaiting response headers"), true},
		{timeoutErr("http2: timeout awaiting response headers"), true},
		{timeoutErr("net/http: TLS handshake timeout"), false},
		{errors.New("timeout awaiting response headers"), false}, // not a timeout by its type
		{context.DeadlineExceeded, false},
	}
	for _, tt := range tests {
		if got := headersTimedOut(tt.err); got != tt.want {
			t.Errorf("headersTimedOut(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

type timeoutErr string

func (e timeoutErr) Error() string   { return string(e) }
func (e timeoutErr) Timeout() bool   { return true }
func (e timeoutErr) Temporary() bool { return true }

// initialized returns t once its fields are derived (init).
func (t *Transport) initialized() *Transport {
	t.init()
	return t
}
