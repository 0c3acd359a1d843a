package proxy_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/proxy"
)

// Clients that go away, 10,000 of them, half while queued and half in the
// middle of a stream, leave nothing behind: no goroutine, no waiter, no
// slot in flight, no place in the queue (the counters that leak on
// cancelled streams in other gateways).
//
// Each round fills every slot with streams that have sent their first
// event, queues as many more behind them, and then all of them leave at
// once, in no particular order.
func TestTenThousandDisconnectsLeaveNothingBehind(t *testing.T) {
	const (
		slots  = 250 // streams in flight each round
		queued = 250 // requests waiting behind them
		rounds = 20  // 20 × 500 = 10,000 disconnects
	)
	var streaming atomic.Int64 // upstream handlers running
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		streaming.Add(1)
		defer streaming.Add(-1)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: one\ndata: {}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // a stream that lasts until its client leaves
	}))
	// The proxy's connections to the upstream that are idle, kept for
	// reuse: a connection dialed for a request whose client left before
	// it was up joins the pool unused, as net/http does. The pool is bounded;
	// each idle connection has three goroutines (the upstream's, and the
	// proxy's reader and writer), which are no leak.
	var mu sync.Mutex
	conns := map[net.Conn]http.ConnState{}
	up.Config.ConnState = func(c net.Conn, st http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		if st == http.StateClosed || st == http.StateHijacked {
			delete(conns, c)
		} else {
			conns[c] = st
		}
	}
	idle := func() (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, st := range conns {
			if st == http.StateIdle || st == http.StateNew { // New: dialed, never used
				n++
			}
		}
		return n
	}
	up.Start()
	defer up.Close()
	p := startProxy(t, proxy.Route{
		Upstream:  mustURL(t, up.URL),
		Limits:    sluice.Limits{Concurrency: slots, FixedConcurrency: true},
		QueueSize: queued,
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: slots + queued}}
	defer client.CloseIdleConnections()

	// Let the runtime's own goroutines (the race detector's, timers')
	// start before counting.
	settled := func() int {
		runtime.GC()
		return runtime.NumGoroutine()
	}
	baseline := settled()

	var admitted int64
	for round := range rounds {
		ctx, leave := context.WithCancel(t.Context())
		var wg, started sync.WaitGroup
		started.Add(slots)
		for range slots {
			wg.Go(func() {
				signalled := false
				defer func() {
					if !signalled {
						started.Done() // never left hanging, even on failure
					}
				}()
				req, _ := http.NewRequestWithContext(ctx, "POST", p.URL()+"/v1/stream", nil)
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("round %d: stream: %v", round, err)
					return
				}
				defer resp.Body.Close()
				br := bufio.NewReader(resp.Body)
				if got := readEvent(t, br); got != "event: one\ndata: {}\n\n" {
					t.Errorf("round %d: first event %q", round, got)
				}
				signalled = true
				started.Done()
				io.Copy(io.Discard, br) // until the client leaves
			})
		}
		started.Wait()
		if t.Failed() {
			leave()
			wg.Wait()
			t.FailNow()
		}
		for range queued {
			wg.Go(func() {
				req, _ := http.NewRequestWithContext(ctx, "POST", p.URL()+"/v1/stream", nil)
				// As everyone leaves at once, the proxy may see a stream
				// go before this request does, and admit it: its client
				// then leaves mid-stream instead.
				if resp, err := client.Do(req); err == nil {
					resp.Body.Close()
				}
			})
		}
		eventually(t, "every slot streams and the rest wait", func() bool {
			s := stats(p)
			return s.Gates.InFlight == slots && s.Gates.Waiting == queued && s.Queued == queued
		})
		leave()
		wg.Wait()
		admitted += slots
		eventually(t, "the gate is empty again", func() bool {
			s := stats(p)
			return s.Gates.InFlight == 0 && s.Gates.Waiting == 0 && s.Queued == 0 && streaming.Load() == 0
		})
	}

	client.CloseIdleConnections()
	s := stats(p)
	if s.Gates.Admitted < admitted || s.Gates.Completed != s.Gates.Admitted {
		t.Errorf("gates %+v: want at least %d admitted, and as many completed", s.Gates, admitted)
	}
	// Goroutines end a moment after the connections they serve close:
	// wait for them rather than for a time.
	deadline := time.Now().Add(10 * time.Second)
	for settled() > baseline+3*idle() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, want at most the baseline %d + 3 × %d idle upstream connections\n%s",
				runtime.NumGoroutine(), baseline, idle(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("goroutines %d: the baseline %d and %d idle upstream connections", runtime.NumGoroutine(), baseline, idle())

	// And the proxy still serves: a place frees and is reused.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", p.URL()+"/v1/stream", nil)
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after: %v %v, want a stream", resp, err)
	}
	resp.Body.Close()
}
