package proxy_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/proxy"
)

// A client refused by a full queue is told to come back when the queue
// could have drained, also when no request rate limits the route: a token
// budget frees room at its own pace, a request's tokens at a time, and a
// concurrency ceiling a slot each time a call ends. Both used to answer
// a flat second, and most clients that obeyed were refused again
// (outside review: 12 of 14).
func TestQueueFullRetryAfterFollowsTokensAndConcurrency(t *testing.T) {
	t.Run("token budget", func(t *testing.T) {
		api, _ := countingAPI(t)
		p := startProxy(t, proxy.Route{
			Upstream: mustURL(t, api.URL), Preset: proxy.OpenAI, // OpenAI keeps the estimate charged: no refund to usage
			Limits:    sluice.Limits{Tokens: sluice.PerMinute(600)},
			QueueSize: 2, MaxWait: time.Minute,
		})
		h := map[string]string{"Content-Type": "application/json"}
		ask := func(maxTokens int) string {
			return fmt.Sprintf(`{"model":"gpt-4.1","max_tokens":%d,"messages":[{"role":"user","content":"hi"}]}`, maxTokens)
		}
		// The first takes the whole budget; two more wait in the queue,
		// ten seconds each (100 tokens at 600 a minute).
		if r := send(t.Context(), "POST", p.URL()+"/v1/chat/completions", "", h, ask(590)); r.status != 200 {
			t.Fatalf("first: %d %s", r.status, r.body)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		for range 2 {
			goSend(ctx, "POST", p.URL()+"/v1/chat/completions", "", h, ask(100))
		}
		eventually(t, "two requests queued", func() bool { return p.Stats()[0].Queued == 2 })
		r := send(t.Context(), "POST", p.URL()+"/v1/chat/completions", "", h, ask(100))
		ms, _ := strconv.Atoi(r.header.Get("Retry-After-Ms"))
		if r.status != http.StatusTooManyRequests || ms < 19000 {
			t.Errorf("queue full: %d, retry-after-ms %d; want 429 and at least 19s (two queued at 10s each)", r.status, ms)
		}
	})
	t.Run("concurrency", func(t *testing.T) {
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select { // a call holds its slot half a second
			case <-time.After(500 * time.Millisecond):
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(api.Close)
		p := startProxy(t, proxy.Route{
			Upstream:  mustURL(t, api.URL),
			Limits:    sluice.Limits{Concurrency: 1, FixedConcurrency: true},
			QueueSize: 3, MaxWait: time.Minute,
		})
		// One call to learn how long a slot is held.
		if r := send(t.Context(), "GET", p.URL()+"/x", "", nil, ""); r.status != 200 {
			t.Fatalf("first: %d %s", r.status, r.body)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		for range 4 { // one in flight, three queued
			goSend(ctx, "GET", p.URL()+"/x", "", nil, "")
		}
		eventually(t, "three requests queued", func() bool { return p.Stats()[0].Queued == 3 })
		r := send(t.Context(), "GET", p.URL()+"/x", "", nil, "")
		ms, _ := strconv.Atoi(r.header.Get("Retry-After-Ms"))
		if r.status != http.StatusTooManyRequests || ms < 1400 {
			t.Errorf("queue full: %d, retry-after-ms %d; want 429 and at least 1.4s (three queued, 0.5s a slot)", r.status, ms)
		}
	})
}

// Clients whose max wait ran out in the queue are told to come back at
// the next turns, not after the whole queue: those ahead of them came
// earlier with the same max wait and are leaving too. Each was told the
// queue's drain time, counting all the others refused with it as ahead
// of it (outside review: 154 clients refused after 30 s were told 31 s
// to 55 s, and the upstream stood idle for 30 s).
func TestMaxWaitRefusalsComeBackAtTheNextTurns(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // a call holds its slot half a second
		case <-time.After(500 * time.Millisecond):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(api.Close)
	p := startProxy(t, proxy.Route{
		Upstream:  mustURL(t, api.URL),
		Limits:    sluice.Limits{Concurrency: 1, FixedConcurrency: true},
		QueueSize: 10, MaxWait: 700 * time.Millisecond,
	})
	if r := send(t.Context(), "GET", p.URL()+"/x", "", nil, ""); r.status != 200 { // how long a slot is held
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	var results []<-chan result
	for range 6 { // one in flight, one admitted after it, four out of time
		results = append(results, goSend(t.Context(), "GET", p.URL()+"/x", "", nil, ""))
	}
	least, refused := time.Hour, 0
	for _, ch := range results {
		r := <-ch
		if r.status != http.StatusTooManyRequests {
			continue
		}
		refused++
		ms, _ := strconv.Atoi(r.header.Get("Retry-After-Ms"))
		least = min(least, time.Duration(ms)*time.Millisecond)
	}
	if refused < 3 {
		t.Fatalf("%d refused, want the four the slot could not reach in 0.7 s", refused)
	}
	if least > 900*time.Millisecond {
		t.Errorf("the first refused was told to come back in %v, want the next turn (0.5 s a slot), not the queue's drain", least)
	}
}

// A first crowd refused by a full queue, before any call has ended to
// say how long one holds its slot, is still told moments a turn apart,
// not all the same second (outside review: 24 refused at once were all
// told 1 s, and 23 were refused again).
func TestFirstQueueFullRefusalsAreSpread(t *testing.T) {
	release := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(api.Close)
	defer close(release)
	p := startProxy(t, proxy.Route{
		Upstream:  mustURL(t, api.URL),
		Limits:    sluice.Limits{Concurrency: 1, FixedConcurrency: true},
		QueueSize: 1, MaxWait: time.Minute,
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	goSend(ctx, "GET", p.URL()+"/x", "", nil, "")
	eventually(t, "one in flight", func() bool { return p.Stats()[0].Gates.InFlight == 1 })
	goSend(ctx, "GET", p.URL()+"/x", "", nil, "")
	eventually(t, "one queued", func() bool { return p.Stats()[0].Queued == 1 })
	seen := map[int]bool{}
	for range 4 {
		r := send(t.Context(), "GET", p.URL()+"/x", "", nil, "")
		ms, _ := strconv.Atoi(r.header.Get("Retry-After-Ms"))
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("got %d, want 429 (queue full)", r.status)
		}
		seen[ms/500] = true // moments a second apart fall in different half-seconds
	}
	if len(seen) < 4 {
		t.Errorf("4 refusals were told %d distinct moments (by half-second), want 4", len(seen))
	}
}
