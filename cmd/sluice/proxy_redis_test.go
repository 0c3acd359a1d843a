package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"
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
	var done []chan error
	for range 2 {
		var out lockedBuffer
		root := newRoot()
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs([]string{"proxy", "--upstream", api.URL, "--preset", "generic", "--listen", "127.0.0.1:0",
			"--rate", "20/s", "--redis", redisURL, "--key", key})
		d := make(chan error, 1)
		go func() { d <- root.ExecuteContext(ctx) }()
		done = append(done, d)
		url := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)`)
		deadline := time.Now().Add(10 * time.Second)
		for {
			if m := url.FindStringSubmatch(out.String()); m != nil {
				bases = append(bases, m[1])
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("no listening line:\n%s", out.String())
			}
			time.Sleep(time.Millisecond)
		}
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
	slices.SortFunc(arrivals, func(a, b time.Time) int { return a.Compare(b) })
	// A call reaches the upstream a little after its admission, later
	// still when the proxy dials a new connection on a loaded machine: the
	// judge allows 20ms of such lag (each proxy alone would put 40 there).
	worst, lo := 0, 0
	for hi := range arrivals {
		for arrivals[hi].Sub(arrivals[lo]) >= time.Second-20*time.Millisecond {
			lo++
		}
		worst = max(worst, hi-lo+1)
	}
	if worst > 20 {
		t.Errorf("a 980ms window held %d calls from the two proxies; want at most 20 (each alone allows 20)", worst)
	}
	if span := arrivals[len(arrivals)-1].Sub(arrivals[0]); span < 2500*time.Millisecond {
		t.Errorf("60 calls spanned %v; want about 3s at a shared 20/s", span)
	}
}
