package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

// Two proxies naming the same --redis and --key share one rate: the
// upstream never sees more than the rate from both together.
func TestProxiesShareARateThroughRedis(t *testing.T) {
	redisURL := "redis://127.0.0.1:6379"
	if u := os.Getenv("SLUICE_TEST_REDIS"); u != "" {
		redisURL = u
	} else if c, err := net.DialTimeout("tcp", "127.0.0.1:6379", 200*time.Millisecond); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Redis: %v", err)
		}
		t.Skip("no Redis")
	} else {
		c.Close()
	}
	var mu sync.Mutex
	var arrivals []time.Time
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		fmt.Fprintln(w, `{"ok":true}`)
	}))
	defer api.Close()
	key := fmt.Sprintf("proxytest-%d-%d", os.Getpid(), time.Now().UnixNano())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var bases []string
	var done []<-chan error
	for range 2 {
		base, _, d := startProxyCommand(ctx, t, "proxy", "--upstream", api.URL, "--preset", "generic", "--listen", "127.0.0.1:0",
			"--rate", "20/s", "--redis", redisURL, "--key", key)
		bases, done = append(bases, base), append(done, d)
	}
	const each = 30
	var wg sync.WaitGroup
	for _, base := range bases {
		for range 3 {
			wg.Go(func() {
				for range each / 3 {
					resp, err := http.Get(base + "/x")
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Errorf("proxy answered %d", resp.StatusCode)
					}
				}
			})
		}
	}
	wg.Wait()
	cancel()
	for _, d := range done {
		if err := <-d; err != nil {
			t.Errorf("proxy stopped with %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(arrivals) != 2*each {
		t.Fatalf("upstream saw %d calls; want %d", len(arrivals), 2*each)
	}
	// This judges the wiring, not the margin: two proxies that did not share
	// would put about 36 calls in any 900ms, sharing puts 18. The 6 over
	// 18 absorb the scheduling delays of a loaded machine between
	// admission and arrival (21 seen with five builds running); the
	// margin itself is judged strictly, on Redis's clock, in package
	// redis (TestGoroutinesSharingALimitNeverExceedIt).
	worst := apitest.BusiestWindow(arrivals, 900*time.Millisecond)
	if worst > 24 {
		t.Errorf("a 900ms window held %d calls from the two proxies; want at most 24 (each alone allows 20)", worst)
	}
	if span := arrivals[len(arrivals)-1].Sub(arrivals[0]); span < 2500*time.Millisecond {
		t.Errorf("60 calls spanned %v; want about 3s at a shared 20/s", span)
	}
}

// With --redis-mode closed and Redis down, the command's proxy answered
// 502 "could not reach the upstream API": the command now tells the
// proxy which error is the store's, and the client gets a 503 naming the
// shared limits, with Retry-After. Needs no Redis: the point is its
// absence.
func TestProxyRedisClosedModeWithRedisDownAnswers503(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the upstream got %s %s: nothing should pass without the shared limits", r.Method, r.URL)
	}))
	defer api.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	base, out, done := startProxyCommand(ctx, t, "proxy", "--upstream", api.URL, "--preset", "anthropic", "--listen", "127.0.0.1:0",
		"--rate", "20/s", "--redis", "redis://"+dead, "--key", "closed-test", "--redis-mode", "closed")
	resp, err := http.Post(base+"/v1/messages", "application/json",
		strings.NewReader(`{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "the shared limits (Redis at") ||
		strings.Count(string(body), "cannot be reached") != 1 {
		t.Errorf("got %d %s, want 503 naming the shared limits, once", resp.StatusCode, body)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// The store warns on the proxy's own log, in its format (an outside
	// review found Redis's warnings in the standard log's).
	if !strings.Contains(out.String(), `level=WARN msg="sluice: redis is not answering`) {
		t.Errorf("no warning of Redis down on the proxy's log:\n%s", out.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("proxy stopped with %v", err)
	}
}

// A route of --config shares its limits through the Redis of its redis
// field in the mode of its redis_mode (the field once unknown, and
// --redis-mode refused beside --config), and the start line says so,
// naming the Redis and the key, never the password. Needs no Redis: a
// dead one shows the mode, closed, at work.
func TestProxyConfigRedisModeClosedIsSetAndShown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the upstream got %s %s: nothing should pass without the shared limits", r.Method, r.URL)
	}))
	defer api.Close()
	path := writeConfig(t, `
routes:
  - prefix: /a
    upstream: `+api.URL+`
    preset: anthropic
    rate: 5/s
    redis: redis://:hunter2@`+dead+`/0
    redis_mode: closed
  - prefix: /b
    upstream: `+api.URL+`
    redis: redis://`+dead+`/0
    redis_key: team-a
    redis_processes: 3
`)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	base, out, done := startProxyCommand(ctx, t, "proxy", "--config", path, "--listen", "127.0.0.1:0")
	resp, err := http.Post(base+"/a/v1/messages", "application/json",
		strings.NewReader(`{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("got %d %s, want 503: redis_mode closed refuses while Redis is down", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("proxy stopped with %v", err)
	}
	log := out.String()
	key := strings.TrimPrefix(api.URL, "http://") + "/a"
	if want := "limits shared through Redis at " + dead + "/0 as " + key + " (mode closed)"; !strings.Contains(log, want) {
		t.Errorf("start lines lack %q:\n%s", want, log)
	}
	if want := "limits shared through Redis at " + dead + "/0 as team-a (mode local, shared by 3 processes)"; !strings.Contains(log, want) {
		t.Errorf("start lines lack %q (the second route's redis_key and redis_processes):\n%s", want, log)
	}
	if !strings.Contains(log, "limits: concurrency") || !strings.Contains(log, "rate 5/s") {
		t.Errorf("start lines lack the route's limits:\n%s", log)
	}
	if strings.Contains(log, "hunter2") {
		t.Errorf("the password is in the log:\n%s", log)
	}
}
