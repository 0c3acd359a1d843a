package proxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
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
		Upstream: u, Preset: Generic, MaxWait: time.Minute, // generic: the LLM presets key by model, which copies the body for a moment (sluice.KeyByModel)
		Limits: sluice.Limits{Concurrency: 1, FixedConcurrency: true},
	}}}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	defer unblock() // a failed check must not leave the upstream's handlers, and so up.Close, waiting
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
	// /metrics says what the budget holds (a request may move from
	// waiting for room to the queue between the two reads).
	m := scrapeBudget(t, s.URL())
	if h, w := r.budget.held.Load(), r.budget.waiting.Load(); m["sluice_proxy_body_held_bytes"] != float64(h) ||
		m["sluice_proxy_body_budget_bytes"] != budget || m["sluice_proxy_body_waiting"] != float64(w) {
		t.Errorf("/metrics: %v; want held %d, budget %d, waiting %d", m, h, budget, w)
	}
	unblock()
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
	if m := scrapeBudget(t, s.URL()); m["sluice_proxy_body_held_bytes"] != 0 || m["sluice_proxy_body_waiting"] != 0 {
		t.Errorf("/metrics once all were answered: %v; want 0 held, 0 waiting", m)
	}
}

// scrapeBudget reads the body budget's series from /metrics.
func scrapeBudget(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if ok && strings.HasPrefix(name, "sluice_proxy_body_") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", sc.Text(), err)
			}
			out[name] = f
		}
	}
	if len(out) != 3 {
		t.Fatalf("/metrics has the body budget's series %v; want 3", out)
	}
	return out
}

// liveHeap returns the bytes of the heap that are live, after a GC.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestWaitForRoomEndsWithTheRequestsPatience: a request whose body finds
// no room waits for it at most its max wait (then 429 with Retry-After,
// as a request that waited for the rate does) or its client's timeout
// (then 504); room made meanwhile lets it in, and the time it waited
// counts in its max wait.
func TestWaitForRoomEndsWithTheRequestsPatience(t *testing.T) {
	for _, tc := range []struct {
		name       string
		timeout    time.Duration // the client's, 0 for none
		freeAfter  time.Duration // when the room is made, 0 for never
		wantStatus int           // 0: let in
		wantOut    outcome
		wantWaited time.Duration
	}{
		{"max wait", 0, 0, http.StatusTooManyRequests, outcomeMaxWait, 30 * time.Second},
		{"client timeout", 12 * time.Second, 0, http.StatusGatewayTimeout, outcomeDeadline, 11 * time.Second}, // answered a second before the client gives up
		{"room made", 0, 5 * time.Second, 0, 0, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				u, _ := url.Parse("http://upstream.test")
				r := newRoute(Route{Upstream: u, Preset: Anthropic, MaxWait: 30 * time.Second}, logger{})
				r.budget = newBodyBudget(100)
				other, _ := r.budget.acquire(context.Background(), 100)
				if tc.freeAfter > 0 {
					go func() {
						time.Sleep(tc.freeAfter)
						r.budget.release(other)
					}()
				}
				const body = `{"model":"m","max_tokens":1}`
				req := httptest.NewRequest("POST", "/v1/messages", bytes.NewReader([]byte(body)))
				if tc.timeout > 0 {
					req.Header.Set("X-Sluice-Timeout", tc.timeout.String())
				}
				rec := httptest.NewRecorder()
				begin := time.Now()
				k, waited, out, ok := r.keepBody(rec, req, begin, clientDeadline(req.Header, begin))
				if waited != tc.wantWaited {
					t.Errorf("waited %v; want %v", waited, tc.wantWaited)
				}
				if tc.wantStatus == 0 {
					if !ok || string(k.bytes()) != body {
						t.Fatalf("not let in (%d, %s); want the body kept", rec.Code, rec.Body)
					}
					a, _, _ := r.enqueue(context.Background(), time.Time{}, waited)
					if left := a.limit.Sub(time.Now()); left != 25*time.Second {
						t.Errorf("max wait left at the gate %v; want 25s", left)
					}
					a.done()
					k.release()
					if h := r.budget.held.Load(); h != 0 {
						t.Errorf("%d bytes held once released; want 0", h)
					}
					return
				}
				if ok || out != tc.wantOut || rec.Code != tc.wantStatus {
					t.Fatalf("ok %v, outcome %v, status %d; want false, %v, %d", ok, out, rec.Code, tc.wantOut, tc.wantStatus)
				}
				if tc.wantStatus == http.StatusTooManyRequests && rec.Header().Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
				if h := r.budget.held.Load(); h != 100 {
					t.Errorf("%d bytes held; want the other request's 100 alone", h)
				}
			})
		})
	}
}

// TestChunkedBodyGivesBackTheRoomItDidNotUse: of a body of unknown
// length room for the largest is taken while it is read, and what it did
// not use is given back at once.
func TestChunkedBodyGivesBackTheRoomItDidNotUse(t *testing.T) {
	u, _ := url.Parse("http://upstream.test")
	r := newRoute(Route{Upstream: u, Preset: Generic, MaxBody: 1 << 20}, logger{})
	r.budget = newBodyBudget(8 << 20)
	req := httptest.NewRequest("POST", "/x", io.MultiReader(bytes.NewReader(make([]byte, 1000)))) // no length
	req.ContentLength = -1
	k, _, _, ok := r.keepBody(httptest.NewRecorder(), req, time.Now(), time.Time{})
	if !ok || len(k.bytes()) != 1000 {
		t.Fatalf("kept %d bytes, ok %v; want 1000", len(k.bytes()), ok)
	}
	if h := r.budget.held.Load(); h < 1000 || h > 1000+1000/8 {
		t.Errorf("%d bytes held for a body of 1000; want about 1000", h)
	}
	k.release()
	if h := r.budget.held.Load(); h != 0 {
		t.Errorf("%d bytes held once released; want 0", h)
	}
}
