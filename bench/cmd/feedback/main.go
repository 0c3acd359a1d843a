// Command feedback measures the Transport against a strict API on
// loopback: 200 requests per sliding second, 10 in flight, 20ms per
// request, refusing the excess with 429. It sends the same batch three
// ways and prints, for each, the time against the physical minimum and
// what the API refused:
//
//   - given: the limits are given (Rate 200/s, Concurrency 10);
//
//   - learned: nothing is given; the Transport learns from the API's
//     RateLimit headers and adapts its concurrency;
//
//   - naive: a plain http.Client, every request at once, no retries.
//
//     go run ./cmd/feedback [-n 2000] [-workers 64]
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/apitest"
)

func main() {
	n := flag.Int("n", 2000, "requests per scenario")
	workers := flag.Int("workers", 64, "goroutines sending")
	flag.Parse()

	const limit, concurrency, latency = 200, 10, 20 * time.Millisecond
	minimum := max(time.Duration(*n)*time.Second/limit, time.Duration(*n)*latency/concurrency)
	fmt.Printf("%d requests from %d goroutines; API: %d/s sliding window, %d in flight, %v latency; physical minimum %v\n",
		*n, *workers, limit, concurrency, latency, minimum)
	fmt.Printf("go %s, %d CPUs, %s\n\n", runtime.Version(), runtime.NumCPU(), time.Now().UTC().Format(time.RFC3339))
	fmt.Println("| scenario | time | time ÷ minimum | succeeded | 429s at the API | throttled % of requests |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: |")

	scenarios := []struct {
		name   string
		client func() (*http.Client, func())
	}{
		{"given (rate 200/s, concurrency 10)", func() (*http.Client, func()) {
			tr := &sluice.Transport{Limits: sluice.Limits{Rate: sluice.PerSecond(limit), Concurrency: concurrency}}
			return &http.Client{Transport: tr}, tr.CloseIdleConnections
		}},
		{"learned (nothing given)", func() (*http.Client, func()) {
			tr := &sluice.Transport{}
			return &http.Client{Transport: tr}, tr.CloseIdleConnections
		}},
		{"naive (plain http.Client)", func() (*http.Client, func()) {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = *workers
			return &http.Client{Transport: tr}, tr.CloseIdleConnections
		}},
	}
	for _, sc := range scenarios {
		api := &apitest.Server{Limit: limit, Window: time.Second, Concurrency: concurrency, Latency: latency, Headers: true, RetryAfter: true}
		srv := httptest.NewServer(api)
		client, closeIdle := sc.client()
		begin := time.Now()
		ok := send(client, srv.URL, *n, *workers)
		elapsed := time.Since(begin)
		closeIdle()
		srv.Close()
		c := api.Counts()
		fmt.Printf("| %s | %.2fs | %.3f | %d | %d | %.2f%% |\n", sc.name, elapsed.Seconds(),
			float64(elapsed)/float64(minimum), ok, c.Throttled(), 100*float64(c.Throttled())/float64(max(c.Requests, 1)))
	}
}

// send makes n GETs from workers goroutines and returns how many got 200.
func send(client *http.Client, url string, n, workers int) int {
	var mu sync.Mutex
	ok := 0
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range jobs {
				resp, err := client.Get(url)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}
		})
	}
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	return ok
}
