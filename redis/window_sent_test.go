package redis

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// slowDialer opens connections that take handshake to be ready, as a
// new connection's TCP and TLS handshakes do.
func slowDialer(handshake time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		select {
		case <-time.After(handshake):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return d.DialContext(ctx, network, addr)
	}
}

// The outside reviews' repro, with the window shared by two processes
// through Redis: the first window's calls leave a handshake after their
// admission, on new connections; the next window's go at once on the
// warm ones. Dated at admission, the next window's calls reached the
// server inside the first window's (all of them refused by a strict
// API). Each call now counts in every window until its request has left,
// and from then on. Judged exactly on the arrivals the server saw.
func TestSharedWindowCountsCallsFromWhenTheyLeaveANewConnection(t *testing.T) {
	addr := sharedAddr(t)
	prefix := uniquePrefix(t)
	srv := newStrictServer(t, 0)
	const n, per, handshake, procs, waves = 10, 300 * time.Millisecond, 100 * time.Millisecond, 2, 3
	var wg sync.WaitGroup
	for range procs {
		limits := sluice.Limits{Window: sluice.Rate{N: n, Per: per}, Concurrency: n, FixedConcurrency: true,
			Store: newTestStore(t, addr, prefix, Options{})}
		base := limits.HTTPTransport()
		base.DialContext = slowDialer(handshake)
		tr := &sluice.Transport{Base: base, Limits: limits, Retry: sluice.RetryPolicy{MaxAttempts: 1}}
		t.Cleanup(tr.CloseIdleConnections)
		client := &http.Client{Transport: tr}
		for range n / procs {
			wg.Go(func() {
				for range waves {
					resp, err := client.Get(srv.URL)
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		}
	}
	wg.Wait()
	if got := srv.count(); got != n*waves {
		t.Fatalf("the server saw %d calls, want %d", got, n*waves)
	}
	if got := srv.worstWindow(per); got > n {
		t.Errorf("the server saw %d calls in one window of %v, want at most %d", got, per, n)
	}
}
