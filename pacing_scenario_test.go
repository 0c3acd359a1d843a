package sluice

import (
	"io"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

// The feedback benchmark (bench/cmd/feedback) on a fake clock, where no
// timer lags and the network takes no time: against a strict API of 200
// calls a sliding second, 10 in flight and 20ms a call, 2000 calls from 64
// goroutines must take the paced minimum, 1999 widened intervals (the
// margin, apiSafe) and the last call's latency, with the limits given or
// learned from the headers, and draw no 429. Before the first calls were
// charged when they started (learn.go), learning cost a round trip more:
// 1.0095 of the minimum instead of 1.0075 (issue 15).
func TestPacingAgainstAStrictAPICostsOnlyTheMargin(t *testing.T) {
	const n, limit, latency = 2000, 200, 20 * time.Millisecond
	for _, tt := range []struct {
		name   string
		limits Limits
	}{
		{"given", Limits{Rate: PerSecond(limit), Concurrency: 10}},
		{"learned", Limits{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				api := &apitest.Server{Limit: limit, Window: time.Second, Concurrency: 10, Latency: latency, Headers: true, RetryAfter: true}
				var mu sync.Mutex
				var arrivals []time.Time
				tr := &Transport{Limits: tt.limits, Base: apitest.RoundTripper{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					arrivals = append(arrivals, time.Now())
					mu.Unlock()
					api.ServeHTTP(w, r)
				})}}
				took := getAll(t, &http.Client{Transport: tr}, "http://api.test/", n, 64)
				if c := api.Counts(); c.Throttled() != 0 {
					t.Errorf("%d 429s at the API", c.Throttled())
				}
				for i := limit; i < len(arrivals); i++ {
					if d := arrivals[i].Sub(arrivals[i-limit]); d < time.Second {
						t.Fatalf("arrivals %d to %d took %v: %d in a second", i-limit, i, d, limit+1)
					}
				}
				if want := (n-1)*apiSafe(PerSecond(limit)).Interval() + latency; took != want {
					t.Errorf("%d calls took %v (%.4f of the minimum), want %v: the margin and the last call's latency", n, took, took.Seconds()*limit/n, want)
				}
			})
		})
	}
}

// getAll sends n GETs of url through client from workers goroutines,
// reading each body, and returns how long they took.
func getAll(t *testing.T, client *http.Client, url string, n, workers int) time.Duration {
	t.Helper()
	return callAll(t, n, workers, func() (*http.Response, error) { return client.Get(url) })
}

// callAll makes n calls from workers goroutines, reading each body, and
// returns how long they took.
func callAll(t *testing.T, n, workers int, call func() (*http.Response, error)) time.Duration {
	t.Helper()
	begin := time.Now()
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range jobs {
				resp, err := call()
				if err != nil {
					t.Error(err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	return time.Since(begin)
}
