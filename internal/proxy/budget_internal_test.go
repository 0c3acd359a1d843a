package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice"
)

// TestBodyBudgetGrantsInOrderAndServesOversizeAlone: room is granted in
// arrival order (a small body does not overtake a large one waiting), a
// body larger than the budget takes all of it rather than waiting
// forever, a bodiless request never waits, and a wait cut short takes
// nothing and says why.
func TestBodyBudgetGrantsInOrderAndServesOversizeAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBodyBudget(100)
		ctx := context.Background()
		first, err := b.acquire(ctx, 60)
		if err != nil || first != 60 {
			t.Fatalf("acquire(60) = %d, %v; want 60, nil", first, err)
		}
		var order []string
		var mu sync.Mutex
		got := func(name string, n int64) {
			room, err := b.acquire(ctx, n)
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			b.release(room)
		}
		var wg sync.WaitGroup
		wg.Go(func() { got("oversize", 500) }) // takes all 100
		synctest.Wait()
		wg.Go(func() { got("small", 10) }) // would fit now, but arrived later
		synctest.Wait()
		if room, err := b.acquire(ctx, 0); room != 0 || err != nil {
			t.Errorf("acquire(0) = %d, %v; want 0, nil at once", room, err)
		}
		if w := b.waiting.Load(); w != 2 {
			t.Errorf("%d waiting; want 2", w)
		}
		cut, cancel := context.WithCancelCause(ctx)
		cancel(errMaxWait)
		if room, err := b.acquire(cut, 5); room != 0 || err != errMaxWait {
			t.Errorf("acquire on an ended context = %d, %v; want 0, errMaxWait", room, err)
		}
		b.release(first)
		wg.Wait()
		if len(order) != 2 || order[0] != "oversize" || order[1] != "small" {
			t.Errorf("granted in order %v; want [oversize small]", order)
		}
		if h := b.held.Load(); h != 0 {
			t.Errorf("%d bytes held at the end; want 0", h)
		}
	})
}

// TestQueuedBodiesStayWithinTheBodyBudget: requests with large bodies
// queued behind a busy upstream hold at most the body budget, however
// many wait; the live heap says so (an outside review saw 40 queued
// bodies of 20 MiB hold 2.8 GiB, each body held twice over). All of them
// are then served.
func TestQueuedBodiesStayWithinTheBodyBudget(t *testing.T) {
	const (
		n      = 12
		size   = 4 << 20
		budget = 16 << 20
		margin = 8 << 20 // the proxy's own and the test's garbage
	)
	release := make(chan struct{})
	arrived := make(chan struct{}, n)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		<-release
		io.WriteString(w, `{"ok":true}`)
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	s := &Server{Addr: "127.0.0.1:0", BodyBudget: budget, Routes: []Route{{
		Upstream: u, Preset: Anthropic, MaxWait: time.Minute,
		Limits: sluice.Limits{Concurrency: 1, FixedConcurrency: true},
	}}}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := s.routes[0]
	body := bytes.Repeat([]byte("x"), size) // one client copy for every request
	base := liveHeap()

	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for range n {
		wg.Go(func() {
			resp, err := http.Post(s.URL()+"/v1/x", "application/octet-stream", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	<-arrived // one in flight, its response not begun
	// The others wait: at the gate, their bodies read, or for room.
	deadline := time.Now().Add(10 * time.Second)
	for r.queued.Load()+r.budget.waiting.Load() < n-1 {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %d queued, %d waiting for room; want %d in all", r.queued.Load(), r.budget.waiting.Load(), n-1)
		}
		time.Sleep(time.Millisecond)
	}
	held := liveHeap() - base
	t.Logf("live heap grew by %.1f MiB with %d MiB of bodies sent, budget %d MiB", float64(held)/(1<<20), n*size>>20, budget>>20)
	if held > budget+margin {
		t.Errorf("%d requests of %d MiB waiting: the live heap grew by %d MiB; want at most the budget, %d MiB (+%d MiB)",
			n, size>>20, held>>20, budget>>20, margin>>20)
	}
	if h := r.budget.held.Load(); h > budget {
		t.Errorf("the budget says %d bytes held; want at most %d", h, budget)
	}
	close(release)
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != http.StatusOK {
			t.Errorf("status %d; want 200 for every request", st)
		}
	}
	if h := r.budget.held.Load(); h != 0 {
		t.Errorf("%d bytes held once all were answered; want 0", h)
	}
}

// liveHeap returns the bytes of the heap that are live, after a GC.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
