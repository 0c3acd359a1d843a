package redis

import (
	"context"
	"errors"
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
// in Redis, once what st queued is dated and released. net/http may
// report a request written after its response came back: the count is
// taken again, for a second, until it is 0.
func pendingCount(t testing.TB, st *Store) int64 {
	t.Helper()
	g := onlyGate(t, st)
	for deadline := time.Now().Add(time.Second); ; time.Sleep(5 * time.Millisecond) {
		awaitDated(t, st)
		awaitReleases(t, st)
		if n := zcard(t, st, g.keys.pending); n == 0 || time.Now().After(deadline) {
			return n
		}
	}
}

// windowTransport returns a Transport of one shared window of n per per
// through st, that dials with dial and tries each request once.
func windowTransport(st *Store, n int, per time.Duration, dial func(context.Context, string, string) (net.Conn, error)) *sluice.Transport {
	limits := sluice.Limits{Window: sluice.Rate{N: float64(n), Per: per}, Store: st}
	base := limits.HTTPTransport()
	base.DialContext = dial
	return &sluice.Transport{Base: base, Limits: limits, Retry: sluice.RetryPolicy{MaxAttempts: 1}}
}

// zcard returns the members of a sorted set.
func zcard(t testing.TB, st *Store, key string) int64 {
	t.Helper()
	n, err := st.client.(goredis.Cmdable).ZCard(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A process that dies while its call waits for a connection leaves the
// call pending in the window. It no longer renews the call's horizon
// (LeaseTTL), renewed while it lived, so the call counts in every window
// until then, and then as started then, the latest it can have left: at
// most LeaseTTL and a window after the process's last renewal, the
// others are admitted.
func TestSharedWindowForgetsTheUnsentCallOfAProcessThatDied(t *testing.T) {
	addr := sharedAddr(t)
	prefix := uniquePrefix(t)
	const per, ttl = 100 * time.Millisecond, 400 * time.Millisecond
	a := newTestStore(t, addr, prefix, Options{LeaseTTL: ttl})
	hang := func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	tr := windowTransport(a, 1, per, hang)
	ctx, cancel := context.WithCancel(context.Background())
	called := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-called
	})
	begin := time.Now()
	go func() {
		defer close(called)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.test/", nil)
		if resp, err := (&http.Client{Transport: tr}).Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
		a.mu.Lock()
		made := len(a.gates) == 1
		a.mu.Unlock()
		if made && zcard(t, a, onlyGate(t, a).keys.pending) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the call was not admitted pending")
		}
	}
	b := windowTransport(newTestStore(t, addr, prefix, Options{}), 1, per, hang).Gate("api.test")
	// Alive, the process renews the horizon of its call.
	if p := tryAcquire(t, b, sluice.Cost{}, 2*ttl); p != nil {
		p.Done(sluice.Outcome{})
		t.Fatalf("admitted %v after a live process's call was, which may still leave: it must count until it has", time.Since(begin))
	}
	a.Close() // died: no renewal, no release
	begin = time.Now()
	horizon, err := a.client.(goredis.Cmdable).ZRangeWithScores(context.Background(), onlyGate(t, a).keys.pending, 0, -1).Result()
	if err != nil || len(horizon) != 1 {
		t.Fatalf("pending %v, %v; want the one call", horizon, err)
	}
	lapses := time.UnixMicro(int64(horizon[0].Score))
	if p := tryAcquire(t, b, sluice.Cost{}, 2*per); p != nil {
		p.Done(sluice.Outcome{})
		t.Fatalf("admitted %v after the dead process's call was, which may still leave: it must count in every window until its horizon", time.Since(begin))
	}
	p := tryAcquire(t, b, sluice.Cost{}, 3*time.Second)
	if p == nil {
		t.Fatalf("not admitted %v after the process died: its unsent call counted beyond its horizon (%v) and a window", time.Since(begin), ttl)
	}
	p.Done(sluice.Outcome{})
	if now := time.Now(); now.Before(lapses.Add(per)) {
		t.Errorf("admitted %v before the dead process's call lapsed and a window passed", lapses.Add(per).Sub(now))
	}
}

// A call whose request is never written (its dial fails) counts in every
// window until it ends, and from then on, the latest it can have left.
func TestSharedWindowDatesACallNeverSentAtItsEnd(t *testing.T) {
	addr := sharedAddr(t)
	st := newTestStore(t, addr, uniquePrefix(t), Options{})
	const dialing = 150 * time.Millisecond
	fail := func(ctx context.Context, _, _ string) (net.Conn, error) {
		time.Sleep(dialing)
		return nil, errors.New("no route to host")
	}
	tr := windowTransport(st, 5, time.Second, fail)
	begin := time.Now()
	if resp, err := (&http.Client{Transport: tr}).Get("http://api.test/"); err == nil {
		resp.Body.Close()
		t.Fatal("the call succeeded without a connection")
	}
	awaitReleases(t, st)
	ended := time.Now()
	g := onlyGate(t, st)
	if n := zcard(t, st, g.keys.pending); n != 0 {
		t.Errorf("%d members still pending after the call ended", n)
	}
	got, err := st.client.(goredis.Cmdable).ZRangeWithScores(context.Background(), g.keys.window, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("window %v, want the one call", got)
	}
	at := time.UnixMicro(int64(got[0].Score))
	if at.Before(begin.Add(dialing)) || at.After(ended) {
		t.Errorf("the call counts from %v after it was asked, want from its end, between %v and %v",
			at.Sub(begin), dialing, ended.Sub(begin))
	}
}
