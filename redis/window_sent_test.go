package redis

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

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
//
// The second wave asks while the first is pending: it is told to come
// back a window later, when the pending calls may have left it, not at
// their horizon (LeaseTTL, 5s).
//
// With Redis down, Local mode's window (at each process's share) takes
// and dates the calls as Redis does.
func TestSharedWindowCountsCallsFromWhenTheyLeaveANewConnection(t *testing.T) {
	for _, up := range []bool{true, false} {
		name := "redis up"
		if !up {
			name = "redis down"
		}
		t.Run(name, func(t *testing.T) { testSharedWindowSent(t, up) })
	}
}

func testSharedWindowSent(t *testing.T, up bool) {
	var addr string
	opt := Options{}
	if up {
		addr = sharedAddr(t)
	} else {
		addr = closedAddr(t)
		opt = Options{CallTimeout: 200 * time.Millisecond, RetryEvery: time.Minute, Processes: 2, Logger: slog.New(slog.DiscardHandler)}
	}
	prefix := uniquePrefix(t)
	srv := newStrictServer(t, 0)
	const n, per, handshake, procs, waves = 10, 300 * time.Millisecond, 100 * time.Millisecond, 2, 3
	begin := time.Now()
	var wg sync.WaitGroup
	var stores []*Store
	for range procs {
		st := newTestStore(t, addr, prefix, opt)
		stores = append(stores, st)
		limits := sluice.Limits{Window: sluice.Rate{N: n, Per: per}, Concurrency: n, FixedConcurrency: true, Store: st}
		base := limits.HTTPTransport()
		base.DialContext = slowDialer(handshake)
		tr := &sluice.Transport{Base: base, Limits: limits, Retry: sluice.RetryPolicy{MaxAttempts: 1}}
		t.Cleanup(tr.CloseIdleConnections)
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
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
	if took := time.Since(begin); took >= DefaultLeaseTTL {
		t.Errorf("%d waves took %v: waiters slept out the pending calls' horizon (%v)", waves, took, DefaultLeaseTTL)
	}
	if got := srv.count(); got != n*waves {
		t.Fatalf("the server saw %d calls, want %d", got, n*waves)
	}
	if got := srv.worstWindow(per); got > n {
		t.Errorf("the server saw %d calls in one window of %v, want at most %d", got, per, n)
	}
	for i, st := range stores {
		if got := st.Stats(); got.Down == up || (up && got.Admissions != n*waves/procs) {
			t.Errorf("process %d: stats %+v, want %d admissions through Redis when up, all local when down", i, got, n*waves/procs)
		}
		if up {
			if got := pendingCount(t, st); got != 0 {
				t.Errorf("process %d left %d calls pending in the window, all of them sent", i, got)
			}
		}
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// onlyGate returns the one gate st shares limits for.
func onlyGate(t testing.TB, st *Store) *shared {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.gates) != 1 {
		t.Fatalf("%d gates, want 1", len(st.gates))
	}
	for _, g := range st.gates {
		return g
	}
	return nil
}

// awaitDated waits for the calls st queued to be dated (sent.go).
func awaitDated(t testing.TB, st *Store) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		st.mu.Lock()
		busy := st.dating
		st.mu.Unlock()
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("calls still being dated after 5s")
		}
	}
}

// pendingCount returns how many window members of st's gate are pending
// in Redis, once what st queued is dated and released.
func pendingCount(t testing.TB, st *Store) int64 {
	t.Helper()
	awaitDated(t, st)
	awaitReleases(t, st)
	g := onlyGate(t, st)
	n, err := st.client.(goredis.Cmdable).ZCard(context.Background(), g.keys.pending).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
