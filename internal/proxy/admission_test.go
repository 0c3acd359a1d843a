package proxy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/mock"
	"github.com/sluicehq/sluice/internal/proxy"
)

const haikuBody = `{"model":"claude-haiku-4-5","max_tokens":20,"messages":[{"role":"user","content":"Hello"}]}`

// Many clients over the limit wait instead of drowning the API: every one
// succeeds and the API refuses none. Retries are off, so an upstream 429
// would reach its client.
func TestManyClientsOverTheLimitAllSucceedWithoutUpstream429s(t *testing.T) {
	api := startMock(t, mock.Config{Style: mock.Anthropic, Seed: 1,
		Requests: mock.Limit{N: 5, Per: 50 * time.Millisecond}, Concurrency: 4})
	p := startProxy(t, proxy.Route{
		Upstream: mustURL(t, api.URL()),
		Preset:   proxy.Anthropic,
		Limits:   sluice.Limits{Rate: sluice.PerSecond(100), Concurrency: 4},
		Retry:    sluice.RetryPolicy{MaxAttempts: 1},
	})
	const clients = 60
	var wg sync.WaitGroup
	results := make([]result, clients)
	for i := range clients {
		wg.Go(func() {
			results[i] = send(t.Context(), "POST", p.URL()+"/v1/messages", "", map[string]string{"Content-Type": "application/json"}, haikuBody)
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil || r.status != 200 {
			t.Fatalf("client %d: %d %v %s; want 200", i, r.status, r.err, r.body)
		}
	}
	st := api.Stats()
	if got := st.ThrottledTotal(); got != 0 {
		t.Errorf("upstream 429s: got %d (%v), want 0", got, st.Throttled)
	}
	if st.Accepted != clients {
		t.Errorf("upstream accepted %d, want %d", st.Accepted, clients)
	}
	if s := stats(p); s.Gates.InFlight != 0 || s.Gates.Waiting != 0 || s.Queued != 0 {
		t.Errorf("after: %+v, want nothing in flight or waiting", s)
	}
}

// A full queue refuses at once, well formed, and sends nothing upstream.
func TestQueueFullRefusedAtOnceWithRetryAfter(t *testing.T) {
	for _, preset := range []proxy.Preset{proxy.Anthropic, proxy.OpenAI, proxy.Generic} {
		t.Run(string(preset), func(t *testing.T) {
			up := startHeld(t)
			p := startProxy(t, proxy.Route{
				Upstream:  mustURL(t, up.URL),
				Preset:    preset,
				Limits:    sluice.Limits{Concurrency: 1, FixedConcurrency: true},
				QueueSize: 2,
			})
			first := goSend(t.Context(), "GET", p.URL()+"/a", "0", nil, "")
			eventually(t, "the first is in flight", func() bool { return stats(p).Gates.InFlight == 1 })
			queued := []<-chan result{
				goSend(t.Context(), "GET", p.URL()+"/a", "1", nil, ""),
				goSend(t.Context(), "GET", p.URL()+"/a", "2", nil, ""),
			}
			eventually(t, "two are queued", func() bool { return stats(p).Gates.Waiting == 2 })

			r := send(t.Context(), "GET", p.URL()+"/a", "3", nil, "")
			checkRefusal(t, preset, r)
			if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 1 {
				t.Errorf("Retry-After %q, want ≥ 1", r.header.Get("Retry-After"))
			}

			close(up.release)
			for i, ch := range append([]<-chan result{first}, queued...) {
				if r := <-ch; r.status != 200 {
					t.Errorf("request %d: %d %v, want 200", i, r.status, r.err)
				}
			}
			if got := up.seen(); len(got) != 3 {
				t.Errorf("upstream saw %v, want the 3 admitted only", got)
			}
		})
	}
}

// checkRefusal checks a 429 of the proxy's own: headers and a body in the
// upstream's style.
func checkRefusal(t *testing.T, preset proxy.Preset, r result) {
	t.Helper()
	if r.err != nil || r.status != http.StatusTooManyRequests {
		t.Fatalf("got %d %v %s, want 429", r.status, r.err, r.body)
	}
	for _, h := range []string{"Retry-After", "RateLimit", "RateLimit-Policy"} {
		if r.header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if ra, rl := r.header.Get("Retry-After"), r.header.Get("RateLimit"); !strings.HasSuffix(rl, ";t="+ra) {
		t.Errorf("RateLimit %q does not say t=%s as Retry-After does", rl, ra)
	}
	var v struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
			Code    string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	want := map[proxy.Preset][3]string{
		proxy.Anthropic: {"error", "rate_limit_error", ""},
		proxy.OpenAI:    {"", "rate_limit_error", "rate_limit_exceeded"},
		proxy.Generic:   {"", "rate_limit_error", ""},
	}[preset]
	if got := [3]string{v.Type, v.Error.Type, v.Error.Code}; got != want || v.Error.Message == "" {
		t.Errorf("body %s: got type, error.type, error.code %q, want %q and a message", r.body, got, want)
	}
}

// A wait the limits predict longer than the max wait is refused at once,
// with the predicted wait as Retry-After, and consumes nothing.
func TestMaxWaitRefusedAtOnceFromThePrediction(t *testing.T) {
	up := startHeld(t)
	close(up.release)
	const maxWait = 10 * time.Minute
	p := startProxy(t, proxy.Route{
		Upstream: mustURL(t, up.URL),
		Limits:   sluice.Limits{Rate: sluice.Rate{N: 1, Per: time.Hour}},
		MaxWait:  maxWait,
	})
	if r := send(t.Context(), "GET", p.URL()+"/x", "0", nil, ""); r.status != 200 {
		t.Fatalf("first: %d %v, want 200", r.status, r.err)
	}
	begin := time.Now()
	r := send(t.Context(), "GET", p.URL()+"/x", "1", nil, "")
	if took := time.Since(begin); took > maxWait/10 {
		t.Errorf("refusal took %v: it waited", took)
	}
	checkRefusal(t, proxy.Generic, r)
	// The next start is an hour away: Retry-After says so, not 1.
	if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 3000 || ra > 3700 {
		t.Errorf("Retry-After %q, want about 3600", r.header.Get("Retry-After"))
	}
	if got := up.seen(); len(got) != 1 {
		t.Errorf("upstream saw %v, want the first only", got)
	}
	if s := stats(p); s.Gates.Waiting != 0 || s.Queued != 0 || s.Gates.Admitted != 1 {
		t.Errorf("after the refusal: %+v, want 1 admitted, none waiting", s)
	}
}

// A wait no limit could foresee (a slot held longer) ends at the max wait
// with a refusal, while the call ahead is still in flight.
func TestMaxWaitEndsAnUnforeseenWait(t *testing.T) {
	up := startHeld(t)
	p := startProxy(t, proxy.Route{
		Upstream: mustURL(t, up.URL),
		Preset:   proxy.OpenAI,
		Limits:   sluice.Limits{Concurrency: 1, FixedConcurrency: true},
		MaxWait:  50 * time.Millisecond,
	})
	first := goSend(t.Context(), "GET", p.URL()+"/x", "0", nil, "")
	eventually(t, "the first is in flight", func() bool { return stats(p).Gates.InFlight == 1 })
	r := send(t.Context(), "GET", p.URL()+"/x", "1", nil, "")
	checkRefusal(t, proxy.OpenAI, r)
	if s := stats(p); s.Gates.Waiting != 0 || s.Queued != 0 || s.Gates.InFlight != 1 {
		t.Errorf("after the refusal: %+v, want the first alone in flight", s)
	}
	close(up.release)
	if r := <-first; r.status != 200 {
		t.Errorf("first: %d, want 200", r.status)
	}
}

// Waiting requests are admitted by X-Sluice-Priority, higher first, then
// by arrival. (A value that is not a whole number is a 400:
// TestOwnHeadersWithBadValuesAre400.)
func TestPriorityHeaderOrdersTheQueue(t *testing.T) {
	up := startHeld(t)
	p := startProxy(t, proxy.Route{
		Upstream: mustURL(t, up.URL),
		Limits:   sluice.Limits{Concurrency: 1, FixedConcurrency: true},
	})
	var chans []<-chan result
	chans = append(chans, goSend(t.Context(), "GET", p.URL()+"/x", "first", nil, ""))
	eventually(t, "the first is in flight", func() bool { return stats(p).Gates.InFlight == 1 })
	for i, q := range []struct{ id, priority string }{
		{"low", ""}, {"high", "5"}, {"mid", "1"}, {"mid2", "1"}, {"zero", " 0 "}, {"neg", "-3"},
	} {
		h := map[string]string{}
		if q.priority != "" {
			h["X-Sluice-Priority"] = q.priority
		}
		chans = append(chans, goSend(t.Context(), "GET", p.URL()+"/x", q.id, h, ""))
		eventually(t, fmt.Sprintf("%d queued", i+1), func() bool { return stats(p).Gates.Waiting == i+1 })
	}
	close(up.release)
	for _, ch := range chans {
		if r := <-ch; r.status != 200 {
			t.Errorf("%d %v, want 200", r.status, r.err)
		}
	}
	got := strings.Join(up.seen(), " ")
	if want := "first high mid mid2 low zero neg"; got != want {
		t.Errorf("upstream order: got %q, want %q", got, want)
	}
}

// A client that gives up while queued leaves the queue at once and is
// never sent.
func TestClientGoneWhileQueuedFreesItsPlace(t *testing.T) {
	up := startHeld(t)
	p := startProxy(t, proxy.Route{
		Upstream: mustURL(t, up.URL),
		Limits:   sluice.Limits{Concurrency: 1, FixedConcurrency: true},
	})
	first := goSend(t.Context(), "GET", p.URL()+"/x", "first", nil, "")
	eventually(t, "the first is in flight", func() bool { return stats(p).Gates.InFlight == 1 })
	ctx, cancel := context.WithCancel(t.Context())
	gone := goSend(ctx, "GET", p.URL()+"/x", "gone", nil, "")
	eventually(t, "one is queued", func() bool { s := stats(p); return s.Gates.Waiting == 1 && s.Queued == 1 })
	cancel()
	<-gone
	eventually(t, "the queue is empty again", func() bool { s := stats(p); return s.Gates.Waiting == 0 && s.Queued == 0 })
	close(up.release)
	<-first
	if r := send(t.Context(), "GET", p.URL()+"/x", "next", nil, ""); r.status != 200 {
		t.Errorf("next: %d %v, want 200", r.status, r.err)
	}
	if got, want := strings.Join(up.seen(), " "), "first next"; got != want {
		t.Errorf("upstream saw %q, want %q", got, want)
	}
}

// With PerKey each API key has its own gates: one key's calls do not
// wait for another's.
func TestPerKeyGivesEachKeyItsOwnGate(t *testing.T) {
	up := startHeld(t)
	p := startProxy(t, proxy.Route{
		Upstream: mustURL(t, up.URL),
		Limits:   sluice.Limits{Concurrency: 1, FixedConcurrency: true},
		PerKey:   true,
	})
	a := goSend(t.Context(), "GET", p.URL()+"/x", "a", map[string]string{"X-Api-Key": "sk-aaa"}, "")
	b := goSend(t.Context(), "GET", p.URL()+"/x", "b", map[string]string{"Authorization": "Bearer sk-bbb"}, "")
	eventually(t, "both keys' calls are in flight together", func() bool { return len(up.seen()) == 2 })
	a2 := goSend(t.Context(), "GET", p.URL()+"/x", "a2", map[string]string{"X-Api-Key": "sk-aaa"}, "")
	eventually(t, "the key's second call waits for its first", func() bool { return stats(p).Gates.Waiting == 1 })
	close(up.release)
	for _, ch := range []<-chan result{a, b, a2} {
		if r := <-ch; r.status != 200 {
			t.Errorf("%d %v, want 200", r.status, r.err)
		}
	}
}

// A refusal describes the limits of the gate that refused: the model's own
// when the route gives the model limits of its own, the route's otherwise.
func TestRefusalPolicyIsTheRefusingModelsLimits(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(up.Close)
	p := startProxy(t, proxy.Route{
		Upstream: mustURL(t, up.URL),
		Preset:   proxy.Anthropic,
		Limits:   sluice.Limits{Rate: sluice.PerMinute(3)},
		Models:   map[string]sluice.Limits{"claude-opus-4": {Rate: sluice.PerMinute(2), Window: sluice.Rate{N: 50, Per: time.Hour}}},
		MaxWait:  time.Second,
	})
	model := func(m string) string {
		return `{"model":"` + m + `","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	}
	for _, tc := range []struct{ model, policy string }{
		{"claude-opus-4-1", `"requests";q=2;w=60, "window";q=50;w=3600`},
		{"claude-haiku-4-5", `"requests";q=3;w=60`},
	} {
		var refused *result
		for range 10 { // until its gate refuses
			r := send(t.Context(), "POST", p.URL()+"/v1/messages", "", nil, model(tc.model))
			if r.status == 429 {
				refused = &r
				break
			}
		}
		if refused == nil {
			t.Fatalf("%s: never refused", tc.model)
		}
		if got := refused.header.Get("RateLimit-Policy"); got != tc.policy {
			t.Errorf("%s: RateLimit-Policy %q, want %q", tc.model, got, tc.policy)
		}
		if got, ra := refused.header.Get("RateLimit"), refused.header.Get("Retry-After"); got != `"requests";r=0;t=`+ra {
			t.Errorf("%s: RateLimit %q, want the first policy's name and t=%s", tc.model, got, ra)
		}
	}
}
