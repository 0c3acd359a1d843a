package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/sluicehq/sluice"
)

// A connection the upstream refuses means nothing listens there: the
// upstream is down, restarting, or the route is wrong. The retry policy
// treats it as transient, which suits a batch that can wait for the API
// to come back, but a live client behind the proxy waited some 35 s of
// backoff for a 502 that did not say why. So the proxy tries a refused
// connection once more after refusedPause (an upstream restarting, a
// listen backlog full for a moment) and then gives up for good
// (sluice.Permanent: no more retries): the client learns within a tenth
// of a second that the upstream is down, and may retry on its own terms.
// Nothing reached the upstream, so nothing of its limits was used (the
// Transport refunds the tokens of a call never sent).

// refusedPause is the pause before a refused connection's one retry.
var refusedPause = 100 * time.Millisecond

// refusedBase is the base transport with that rule.
type refusedBase struct{ http.RoundTripper }

func (b refusedBase) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.RoundTripper.RoundTrip(req)
	if err == nil || !connRefused(err) {
		return resp, err
	}
	if again, ok := rewound(req); ok && pause(req.Context(), refusedPause) == nil {
		resp, err = b.RoundTripper.RoundTrip(again)
		if err == nil || !connRefused(err) {
			return resp, err
		}
	}
	return nil, sluice.Permanent(fmt.Errorf("connection refused to %s: %w", req.URL.Host, err))
}

// CloseIdleConnections passes on to the base.
func (b refusedBase) CloseIdleConnections() {
	if c, ok := b.RoundTripper.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// connRefused reports whether err is a connection refused.
func connRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// rewound returns req with a fresh copy of its body, false when it has
// a body it cannot get again.
func rewound(req *http.Request) (*http.Request, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	again := *req
	again.Body = body
	return &again, true
}

// pause waits d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// upstreamCause says in a few words why the upstream gave no response,
// for the body of the proxy's 502: the client cannot see the log.
func upstreamCause(err error, host string) string {
	var dns *net.DNSError
	switch {
	case connRefused(err):
		return "connection refused to " + host
	case errors.As(err, &dns):
		return "cannot resolve " + dns.Name + ": " + dns.Err
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by " + host
	}
	return err.Error()
}
