package proxy_test

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/mock"
	"github.com/sluicehq/sluice/internal/proxy"
)

// gatedBase is a Route's Base that holds every request until open is
// closed and records the order requests reached it by X-Test-Id: the
// order the gate admitted them in.
type gatedBase struct {
	open chan struct{}
	next http.RoundTripper
	mu   sync.Mutex
	ids  []string
}

func (b *gatedBase) RoundTrip(req *http.Request) (*http.Response, error) {
	b.mu.Lock()
	b.ids = append(b.ids, req.Header.Get("X-Test-Id"))
	b.mu.Unlock()
	select {
	case <-b.open:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	return b.next.RoundTrip(req)
}

func (b *gatedBase) order() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.ids...)
}

// A crowd of clients over the limit, with mixed priorities, against the
// mock: the API refuses none; every client either succeeds or gets the
// proxy's own well-formed 429 at once (the queue is full); and those that
// waited are admitted highest priority first.
//
// One call holds the only slot while the crowd arrives, so that every
// admission after it is the queue's choice, not an accident of who
// connected first.
func TestCrowdOverTheLimitNoUpstream429sAndPriorityOrder(t *testing.T) {
	const (
		clients = 200
		queue   = 120
	)
	// The mock allows two at once where the proxy sends one: the mock
	// frees a slot after its last byte, which the client may read first.
	api := startMock(t, mock.Config{Style: mock.Anthropic, Seed: 5,
		Requests: mock.Limit{N: 20, Per: 100 * time.Millisecond}, Concurrency: 2})
	base := &gatedBase{open: make(chan struct{}), next: http.DefaultTransport.(*http.Transport).Clone()}
	p := startProxy(t, proxy.Route{
		Upstream:  mustURL(t, api.URL()),
		Preset:    proxy.Anthropic,
		Limits:    sluice.Limits{Rate: sluice.PerSecond(200), Concurrency: 1, FixedConcurrency: true},
		QueueSize: queue,
		Retry:     sluice.RetryPolicy{MaxAttempts: 1}, // an upstream 429 would reach its client
		Base:      base,
	})
	h := func(prio int) map[string]string {
		return map[string]string{"Content-Type": "application/json", "X-Api-Key": "sk-test", "X-Sluice-Priority": strconv.Itoa(prio)}
	}
	plug := goSend(t.Context(), "POST", p.URL()+"/v1/messages", "plug", h(0), haikuBody)
	eventually(t, "the plug holds the slot", func() bool { return stats(p).Gates.InFlight == 1 })

	rng := rand.New(rand.NewPCG(1, 2))
	prio := make([]int, clients)
	results := make([]result, clients)
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for i := range clients {
		prio[i] = rng.IntN(5)
		wg.Go(func() {
			r := send(t.Context(), "POST", p.URL()+"/v1/messages", strconv.Itoa(i), h(prio[i]), haikuBody)
			results[i] = r
			if r.status == http.StatusTooManyRequests {
				mu.Lock()
				refused++
				mu.Unlock()
			}
		})
	}
	eventually(t, "the queue is full and the rest refused", func() bool {
		mu.Lock()
		n := refused
		mu.Unlock()
		s := stats(p)
		return n == clients-queue && s.Queued == queue && s.Gates.Waiting == queue
	})
	close(base.open)
	wg.Wait()
	if r := <-plug; r.status != 200 {
		t.Fatalf("plug: %d %v %s", r.status, r.err, r.body)
	}

	ok := 0
	for i, r := range results {
		switch r.status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			checkRefusal(t, proxy.Anthropic, r)
			if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("client %d: Retry-After %q, want an integer ≥ 1", i, r.header.Get("Retry-After"))
			}
		default:
			t.Errorf("client %d: %d %v %s; want 200 or the proxy's 429", i, r.status, r.err, r.body)
		}
	}
	if ok != queue {
		t.Errorf("%d succeeded, want the %d queued", ok, queue)
	}
	st := api.Stats()
	if st.ThrottledTotal() != 0 || st.Accepted != queue+1 {
		t.Errorf("upstream: %d accepted, 429s %v; want %d and none", st.Accepted, st.Throttled, queue+1)
	}

	// Admitted after the plug: priorities never rise.
	order := base.order()
	if len(order) != queue+1 || order[0] != "plug" {
		t.Fatalf("admitted %d (%v...), want the plug then the %d queued", len(order), order[:min(3, len(order))], queue)
	}
	last := 1 << 30
	for k, id := range order[1:] {
		i, _ := strconv.Atoi(id)
		if prio[i] > last {
			t.Errorf("admission %d: client %d of priority %d after one of priority %d", k+1, i, prio[i], last)
		}
		last = prio[i]
	}
	if s := stats(p); s.Gates.InFlight != 0 || s.Gates.Waiting != 0 || s.Queued != 0 {
		t.Errorf("after: %+v, want nothing in flight or waiting", s)
	}
}
