package sluice

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// unsentCost is what a Transport asks of a gate holding a window.
var unsentCost = Cost{unsent: true}

// The first window's calls, admitted at 0 and sent 80ms later (the dial
// and TLS of new connections), count from 80ms: the next window's calls
// may not start before 80ms + Per. Counted from admission, they started
// at Per, and reached a strict API inside the first window.
func TestSlidingWindowCountsACallFromWhenItLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, per, handshake = 5, time.Second, 80 * time.Millisecond
		w := NewSlidingWindow(Rate{N: n, Per: per})
		g := NewGate(w)
		var first []*Permit
		for range n {
			p, err := g.Acquire(t.Context(), unsentCost)
			if err != nil {
				t.Fatal(err)
			}
			first = append(first, p)
		}
		time.Sleep(handshake)
		for _, p := range first {
			p.sent()
			p.Done(Outcome{})
		}
		time.Sleep(per - handshake)
		if w.Allow() {
			t.Fatalf("admitted at %v, before the first window's calls, sent at %v, left it", per, handshake)
		}
		begin := time.Now()
		p, err := g.Acquire(t.Context(), unsentCost)
		if err != nil {
			t.Fatal(err)
		}
		p.Done(Outcome{})
		if waited := time.Since(begin); waited != handshake {
			t.Errorf("the next window's first call waited %v after %v, want %v", waited, per, handshake)
		}
	})
}

// A call waiting for its connection longer than the window itself still
// counts: until it has left, it counts in every window.
func TestSlidingWindowCountsAnUnsentCallInEveryWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewSlidingWindow(Rate{N: 2, Per: time.Second})
		if wait, mark := w.Take(unsentCost, time.Time{}, 0); wait != 0 || mark != pendingMark {
			t.Fatalf("Take = %v, %d; want 0, pendingMark", wait, mark)
		}
		if !w.Allow() {
			t.Fatal("the second unit refused")
		}
		time.Sleep(1500 * time.Millisecond) // the start at 0 has left; the unsent call has not
		if !w.Allow() || w.Allow() {
			t.Fatal("at 1.5s want one admission: the unsent call holds the other unit")
		}
		if got := w.Count(); got != 2 {
			t.Errorf("Count() = %d with one call unsent and one started, want 2", got)
		}
		w.sent(unsentCost) // left at 1.5s: counts until 2.5s
		time.Sleep(999 * time.Millisecond)
		if w.Allow() {
			t.Fatal("admitted before the calls of 1.5s left the window")
		}
		time.Sleep(time.Millisecond)
		if !w.AllowN(2) {
			t.Fatal("refused two at 2.5s")
		}
	})
}

// A gate waiting on a window full of unsent calls admits the next call a
// window after they leave, and predicts no less than a window.
func TestGateWaitsForAWindowsUnsentCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewSlidingWindow(Rate{N: 1, Per: time.Second})
		g := NewGate(w)
		p, err := g.Acquire(t.Context(), unsentCost)
		if err != nil {
			t.Fatal(err)
		}
		if got := w.Predict(Cost{}, Cost{}); got != time.Second {
			t.Errorf("Predict = %v with one call unsent, want at least the window, 1s", got)
		}
		const lag = 2500 * time.Millisecond
		time.AfterFunc(lag, p.sent)
		begin := time.Now()
		q, err := g.Acquire(t.Context(), Cost{})
		if err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(begin); waited != lag+time.Second {
			t.Errorf("admitted after %v, want %v: a window after the call left", waited, lag+time.Second)
		}
		p.Done(Outcome{})
		q.Done(Outcome{})
	})
}

// A call never said to have left is counted from its Done; sent after
// Done, and a second sent, change nothing.
func TestPermitDoneDatesACallNeverSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewSlidingWindow(Rate{N: 1, Per: time.Second})
		g := NewGate(w)
		p, err := g.Acquire(t.Context(), unsentCost)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		p.Done(Outcome{})
		time.Sleep(100 * time.Millisecond)
		p.sent()
		p.sent()
		w.mu.Lock()
		entries, pending := append([]windowEntry(nil), w.entries[w.head:]...), w.pending
		w.mu.Unlock()
		if want := []windowEntry{{t: int64(300 * time.Millisecond), n: 1}}; pending != 0 || fmt.Sprint(entries) != fmt.Sprint(want) {
			t.Errorf("entries %v, pending %d; want %v, 0", entries, pending, want)
		}
	})
}

// A pending take given back (another limit refused the call) leaves the
// window as it was.
func TestSlidingWindowUntakesAPendingTake(t *testing.T) {
	w := NewSlidingWindow(Rate{N: 1, Per: time.Hour})
	_, mark := w.Take(unsentCost, time.Time{}, 0)
	w.Untake(unsentCost, mark)
	if !w.Allow() || w.Count() != 1 {
		t.Fatalf("after the give-back: Count() = %d, want the one start just allowed", w.Count())
	}
}

// A call sent while starts are reserved for later is recorded before
// them, so the entries stay in time order.
func TestSlidingWindowDatesASentCallBeforeLaterReservations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewSlidingWindow(Rate{N: 2, Per: time.Second})
		w.Take(unsentCost, time.Time{}, 0)
		w.Allow()
		r := w.Reserve(1) // a second from now, at the earliest the pending call could leave
		if d := r.Delay(); d != time.Second {
			t.Fatalf("reserved in %v, want 1s", d)
		}
		time.Sleep(100 * time.Millisecond)
		w.sent(unsentCost)
		checkWindowInvariant(t, w)
		r.Cancel()
	})
}

// checkWindowInvariant fails t unless w's live entries are in time order
// and its sum is theirs and its pending units.
func checkWindowInvariant(t *testing.T, w *SlidingWindow) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	sum := w.pending
	for i, e := range w.entries[w.head:] {
		if e.n <= 0 {
			t.Fatalf("entry %d holds %d units", i, e.n)
		}
		if i > 0 && w.entries[w.head+i-1].t >= e.t {
			t.Fatalf("entries out of order at %d: %v", i, w.entries[w.head:])
		}
		sum += e.n
	}
	if w.pending < 0 || sum != w.sum {
		t.Fatalf("sum %d, want %d (pending %d)", w.sum, sum, w.pending)
	}
}

// Takes, pending or not, give-backs and sends at once keep the entries in
// order and the sum right, and leave nothing pending once all are sent.
func TestSlidingWindowSentUntakeTakeConcurrently(t *testing.T) {
	w := NewSlidingWindow(Rate{N: 50, Per: 5 * time.Millisecond})
	var wg sync.WaitGroup
	var stop atomic.Bool
	for i := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for range 20000 {
				c := Cost{Requests: 1 + rng.IntN(3), unsent: rng.IntN(2) == 0}
				wait, mark := w.Take(c, time.Time{}, 0)
				if wait != 0 {
					continue
				}
				switch {
				case rng.IntN(4) == 0:
					w.Untake(c, mark)
				case c.unsent:
					w.sent(c)
				}
			}
		})
	}
	checker := make(chan struct{})
	go func() {
		defer close(checker)
		for !stop.Load() {
			checkWindowInvariant(t, w)
		}
	}()
	wg.Wait()
	stop.Store(true)
	<-checker
	checkWindowInvariant(t, w)
	if w.pending != 0 {
		t.Errorf("%d units pending once all were sent or given back", w.pending)
	}
}

// pipeNet is an in-memory network for an http.Server under
// testing/synctest: each new connection takes handshake to dial (a TCP
// and TLS handshake), then is a net.Pipe.
type pipeNet struct {
	handshake func() time.Duration
	conns     chan net.Conn
	closed    chan struct{}
	once      sync.Once
	dials     atomic.Int32
}

func newPipeNet(handshake func() time.Duration) *pipeNet {
	return &pipeNet{handshake: handshake, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeNet) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeNet) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeNet) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443} }

func (l *pipeNet) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	l.dials.Add(1)
	select {
	case <-time.After(l.handshake()):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// strictWindowAPI refuses a call that arrives when limit calls arrived in
// the window ending now, as strict APIs do.
type strictWindowAPI struct {
	limit   int
	window  time.Duration
	latency time.Duration // to answer a call it accepts

	mu       sync.Mutex
	arrivals []time.Time
	refused  int
}

func (a *strictWindowAPI) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	now := time.Now()
	for len(a.arrivals) > 0 && !a.arrivals[0].After(now.Add(-a.window)) {
		a.arrivals = a.arrivals[1:]
	}
	if len(a.arrivals) >= a.limit {
		a.refused++
		a.mu.Unlock()
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	a.arrivals = append(a.arrivals, now)
	a.mu.Unlock()
	time.Sleep(a.latency)
}

// The outside reviews' repro: 20 a second in any window, 20 callers, 20
// new connections that take 60-99ms to dial. The first window's calls
// reach the API 60-99ms after their admission; the second window's go on
// warm connections, and must not arrive inside the first window. Counted
// from admission, all 20 of the second wave were refused. Counted from
// their answer (300ms later), they would be safe but slow.
func TestTransportWindowCountsCallsFromWhenTheyLeaveANewConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, waves, latency = 20, 3, 300 * time.Millisecond
		api := &strictWindowAPI{limit: n, window: time.Second, latency: latency}
		begin := time.Now()
		var dial atomic.Int32
		pn := newPipeNet(func() time.Duration {
			return time.Duration(60+dial.Add(1)*39/n) * time.Millisecond
		})
		srv := &http.Server{Handler: api}
		served := make(chan struct{})
		go func() {
			defer close(served)
			srv.Serve(pn)
		}()
		limits := Limits{Window: Rate{N: n, Per: time.Second}, Concurrency: n, FixedConcurrency: true}
		base := limits.HTTPTransport()
		base.DialContext = pn.DialContext
		tr := &Transport{Base: base, Limits: limits, Retry: RetryPolicy{MaxAttempts: 1}}
		client := &http.Client{Transport: tr}
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				for range waves {
					resp, err := client.Get("http://api.test/")
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		took := time.Since(begin)
		tr.CloseIdleConnections()
		srv.Close()
		<-served
		if api.refused != 0 {
			t.Errorf("the strict API refused %d of %d calls", api.refused, n*waves)
		}
		// The last wave leaves two windows (with apiSafe's margin) after
		// the first arrived, at 99ms at the latest, and takes latency.
		if want := 99*time.Millisecond + 2*(time.Second+maxMargin) + latency; took > want {
			t.Errorf("%d waves took %v, want at most %v", waves, took, want)
		}
		if d := pn.dials.Load(); d != n {
			t.Errorf("%d connections dialled, want %d: the later waves should reuse them", d, n)
		}
	})
}

// Each attempt of a retried request is its own admission, and its own
// permit is told when it left: nothing stays pending.
func TestTransportWindowDatesEachAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		pn := newPipeNet(func() time.Duration { return 50 * time.Millisecond })
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if calls.Add(1) == 1 {
				w.WriteHeader(http.StatusBadGateway)
			}
		})}
		served := make(chan struct{})
		go func() {
			defer close(served)
			srv.Serve(pn)
		}()
		limits := Limits{Window: Rate{N: 10, Per: time.Second}, Concurrency: 1, FixedConcurrency: true}
		base := limits.HTTPTransport()
		base.DialContext = pn.DialContext
		tr := &Transport{Base: base, Limits: limits}
		resp, err := (&http.Client{Transport: tr}).Get("http://api.test/")
		if err != nil {
			t.Fatal(err)
		}
		// Held by the response: read while the body is unread.
		var w *SlidingWindow
		for _, l := range tr.Gate("api.test").limits {
			if sw, ok := l.(*SlidingWindow); ok {
				w = sw
			}
		}
		w.mu.Lock()
		pending, sum := w.pending, w.sum
		w.mu.Unlock()
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		srv.Close()
		<-served
		if calls.Load() != 2 || pending != 0 || sum != 2 {
			t.Errorf("%d attempts; the window holds %d, %d of them pending; want 2 attempts, 2 dated", calls.Load(), sum, pending)
		}
	})
}

// A permit dates its call once, whichever of sent and Done comes first,
// even when they race: a second dating would take another call's pending
// unit and date it early.
func TestPermitDatesItsCallOnce(t *testing.T) {
	w := NewSlidingWindow(Rate{N: 1 << 20, Per: time.Hour})
	g := NewGate(w)
	other, err := g.Acquire(t.Context(), unsentCost)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		p, err := g.Acquire(t.Context(), unsentCost)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(p.sent)
		wg.Go(p.sent)
		wg.Go(func() { p.Done(Outcome{}) })
		wg.Wait()
		w.mu.Lock()
		pending, sum := w.pending, w.sum
		w.mu.Unlock()
		if pending != 1 || sum != i+2 {
			t.Fatalf("after call %d: %d pending of %d, want 1 (the other call's) of %d", i, pending, sum, i+2)
		}
	}
	other.Done(Outcome{})
}
