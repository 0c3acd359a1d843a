package main_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

// redisURL returns the Redis the tests share (SLUICE_TEST_REDIS, else
// 127.0.0.1:6379); the test is skipped without one, and fails under
// CI=true.
func redisURL(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("SLUICE_TEST_REDIS"); u != "" {
		return u
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:6379", 200*time.Millisecond)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Redis at 127.0.0.1:6379 and no SLUICE_TEST_REDIS: %v", err)
		}
		t.Skip("no Redis")
	}
	c.Close()
	return "redis://127.0.0.1:6379"
}

// Two sluice run processes naming the same --key share one rate: the
// server never sees more than the rate from both together.
func TestRunProcessesShareARateThroughRedis(t *testing.T) {
	url := redisURL(t)
	bin := binBuild(t)
	var mu sync.Mutex
	var arrivals []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		fmt.Fprintln(w, `{"ok": true}`)
	}))
	defer srv.Close()
	key := fmt.Sprintf("runtest-%d-%d", os.Getpid(), time.Now().UnixNano())
	const each = 30
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 2 {
		dir := t.TempDir()
		in := filepath.Join(dir, "in.jsonl")
		binInput(t, in, each)
		wg.Go(func() {
			r := binRun(t, bin, dir, "run", "--base-url", srv.URL, "--rate", "20/s", "--progress", "none",
				"--redis", url, "--key", key, in)
			if r.code != 0 {
				t.Errorf("process %d: exit %d\n%s", i, r.code, r.stderr)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	if len(arrivals) != 2*each {
		t.Fatalf("server saw %d calls; want %d", len(arrivals), 2*each)
	}
	// This judges the wiring, not the margin: two processes that did not share
	// would put about 36 calls in any 900ms, sharing puts 18. The 6 over
	// 18 absorb the scheduling delays of a loaded machine between
	// admission and arrival (21 seen with five builds running); the
	// margin itself is judged strictly, on Redis's clock, in package
	// redis (TestGoroutinesSharingALimitNeverExceedIt).
	worst := apitest.BusiestWindow(arrivals, 900*time.Millisecond)
	if worst > 24 {
		t.Errorf("a 900ms window held %d calls from the two processes; want at most 24", worst)
	}
	// Each alone at 20/s would finish 30 calls in 1.5s; sharing, the 60
	// take about 3s.
	if span := arrivals[len(arrivals)-1].Sub(arrivals[0]); span < 2500*time.Millisecond {
		t.Errorf("60 calls spanned %v; want about 3s at a shared 20/s (elapsed %v)", span, elapsed)
	}
}
