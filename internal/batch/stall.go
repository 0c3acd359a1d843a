package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// The Transport's attempt timeout bounds the wait for a response's
// headers and leaves the body to whoever reads it, so that a library
// caller's long stream is not cut. A run reads every body whole, and a
// server that sent the headers and then nothing kept its item in flight
// for ever (with --ordered, every later result behind it). So a run's
// connections fail a read that waits longer than a little over the
// timeout with nothing arriving: an idle limit, so a large body that
// keeps coming is never cut. It is kept on the connection rather than
// on each call: a context and a timer per call cost a run eight
// allocations an item.

// stallBase returns the run's HTTP transport: the Transport's usual one,
// headers bounded by timeout, its connections by idleLimit(timeout).
//
// The wait for the headers is timed two ways. Over TLS, where HTTP/2
// shares a connection between calls, net/http times it, with a timer per
// request (ResponseHeaderTimeout). In the clear, which is HTTP/1 and one
// call at a time on a connection, the connection times it with the read
// deadline it keeps anyway: net/http's timer, made, selected on and
// stopped for every request, was 4% of the instructions of a run against
// a local server (issue 15).
func stallBase(pool *http.Transport, timeout time.Duration) *stallTransport {
	pool.ResponseHeaderTimeout = timeout
	dial := pool.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	idle := idleLimit(timeout)
	pool.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: c, idle: idle}, nil
	}
	plain := pool.Clone()
	plain.ResponseHeaderTimeout = 0 // the connection times it (idleConn.headers)
	plain.Protocols = new(http.Protocols)
	plain.Protocols.SetHTTP1(true) // never HTTP/2 in the clear: one call a connection
	plain.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: c, idle: idle, headers: true}, nil
	}
	return &stallTransport{plain: plain, tls: pool, timeout: timeout}
}

// stallTransport sends http:// requests on plain and the others on tls
// (see stallBase).
type stallTransport struct {
	plain, tls *http.Transport
	timeout    time.Duration
}

// RoundTrip sends req on the transport for its scheme.
func (s *stallTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" {
		return s.plain.RoundTrip(req)
	}
	return s.tls.RoundTrip(req)
}

// CloseIdleConnections closes both transports' idle connections.
func (s *stallTransport) CloseIdleConnections() {
	s.plain.CloseIdleConnections()
	s.tls.CloseIdleConnections()
}

// ResponseHeaderTimeout tells the sluice.Transport that the wait for the
// headers is timed here, so that it adds no timer of its own.
func (s *stallTransport) ResponseHeaderTimeout() time.Duration { return s.timeout }

// idleLimit is how long a connection may wait for a byte: an eighth
// over the header timeout, so that a wait for headers ends as a header
// timeout, which says so, and not as a read that timed out.
func idleLimit(timeout time.Duration) time.Duration { return timeout + timeout/8 }

// idleConn fails a read when nothing arrived for idle since the read
// began or the connection last wrote (a request sent on a connection
// long idle gets the whole limit). The deadline is moved at most every
// sixteenth of idle: one clock read per read or write, a deadline set
// now and then.
//
// With headers (HTTP/1 in the clear, a call at a time), a read that times
// out after a write and before any byte of the answer since is the wait
// for the response's headers timing out, and fails with errHeadersLate: its
// bound is then between 1.05 and 1.125 times the timeout, from the
// request's last write.
type idleConn struct {
	net.Conn
	idle    time.Duration
	headers bool
	setAt   atomic.Int64 // unix nanoseconds of the last deadline set; read and write loops both move it
	// With headers, writes counts the writes (the write loop's), and
	// answered is what it was when bytes last came back (the read loop's):
	// a request awaits its headers while the two differ. Each loop writes
	// only its own counter, on a cache line of its own, so that neither
	// takes the other's line away on every call.
	_        [56]byte
	writes   atomic.Uint64
	_        [56]byte
	answered atomic.Uint64
}

func (c *idleConn) push() {
	now := time.Now()
	if last := c.setAt.Load(); now.UnixNano()-last < int64(c.idle/16) {
		return
	}
	c.setAt.Store(now.UnixNano())
	_ = c.Conn.SetReadDeadline(now.Add(c.idle))
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.push()
	n, err := c.Conn.Read(p)
	if c.headers {
		if w := c.writes.Load(); w != c.answered.Load() {
			if n > 0 {
				c.answered.Store(w)
			} else if errors.Is(err, os.ErrDeadlineExceeded) {
				return n, errHeadersLate
			}
		}
	}
	return n, err
}

func (c *idleConn) Write(p []byte) (int, error) {
	if c.headers {
		c.writes.Add(1)
	}
	c.push()
	return c.Conn.Write(p)
}

// errHeadersLate is a plain connection's wait for the response's headers
// timing out. It reads as net/http's own (a timeout, its words ending as
// theirs do), which the sluice.Transport knows and words with the
// timeout.
var errHeadersLate error = headersLate{}

type headersLate struct{}

func (headersLate) Error() string   { return "sluice: timeout awaiting response headers" }
func (headersLate) Timeout() bool   { return true }
func (headersLate) Temporary() bool { return true }

// watchStream fails a read of body once nothing has arrived for idle.
// Over HTTP/2 a connection carries many calls, and its reads go on while
// any of them moves, so the connection's idle limit never sees one
// stalled stream beside a busy one: each body is watched on its own,
// with a timer. HTTP/2 is what the remote APIs speak, whose calls take
// far longer than a timer costs; a local HTTP/1 server keeps the cheap
// limit on the connection alone.
func watchStream(body io.ReadCloser, idle time.Duration) io.ReadCloser {
	w := &streamWatch{body: body, idle: idle}
	w.timer = time.AfterFunc(idle, func() {
		w.stalled.Store(true)
		body.Close() // ends the read waiting on it
	})
	return w
}

// streamWatch is a body whose reads fail once idle passes with nothing
// read; see watchStream.
type streamWatch struct {
	body    io.ReadCloser
	idle    time.Duration
	timer   *time.Timer
	stalled atomic.Bool
}

func (w *streamWatch) Read(p []byte) (int, error) {
	n, err := w.body.Read(p)
	if w.stalled.Load() {
		return n, os.ErrDeadlineExceeded // as the connection's idle limit says it
	}
	if n > 0 {
		w.timer.Reset(w.idle)
	}
	return n, err
}

func (w *streamWatch) Close() error {
	w.timer.Stop()
	return w.body.Close()
}

// errBodyStalled says a call's body stopped arriving.
var errBodyStalled = errors.New("the response body stopped arriving")

// stalledError words a body read that ended on the idle limit.
func stalledError(timeout time.Duration, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: nothing came for over %v (--timeout)", errBodyStalled, timeout)
	}
	return err
}
