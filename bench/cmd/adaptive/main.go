// Command adaptive shows how the adaptive concurrency ceiling moves, in
// real time, in two scenarios, printing the ceiling at every step:
//
//  1. work: latency that follows the work, not the load (uniform in
//     200ms-4s, as LLM latency follows the output's length), no capacity
//     limit, a top of 64 and more callers than that always waiting. The
//     ceiling should climb to the top.
//
//  2. mock: the mock API of `sluice mock --concurrency 5` (anthropic
//     style), driven by 64 goroutines through a sluice.Transport with a
//     concurrency of 64. The ceiling should settle at 5 with few 429s.
//
//     go run ./cmd/adaptive [-work 30s] [-mock 25s] [-every 5s] [-latency 200ms±100ms]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/mock"
)

func main() {
	work := flag.Duration("work", 30*time.Second, "how long the variable-latency scenario runs")
	mockFor := flag.Duration("mock", 25*time.Second, "how long the mock scenario runs")
	every := flag.Duration("every", 5*time.Second, "how often the ceiling is printed")
	latency := flag.String("latency", "", `the mock's latency, as for sluice mock --latency (default none)`)
	flag.Parse()
	if err := run(*work, *mockFor, *every, *latency); err != nil {
		fmt.Fprintln(os.Stderr, "adaptive:", err)
		os.Exit(1)
	}
}

func run(work, mockFor, every time.Duration, latency string) error {
	fmt.Printf("go %s, %d CPUs, %s\n\n", runtime.Version(), runtime.NumCPU(), time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("1. work: latency uniform in 200ms-4s whatever the load, no capacity limit, top 64, 100 callers\n\n")
	fmt.Println("| time | ceiling | calls done |")
	fmt.Println("| ---: | ---: | ---: |")
	runWork(work, every)

	lat, err := mock.ParseLatency(latency)
	if err != nil {
		return err
	}
	fmt.Printf("\n2. mock: sluice mock --concurrency 5 --latency %q (anthropic), Transport concurrency 64, 64 callers\n\n", latency)
	fmt.Println("| time | ceiling | requests at the mock | 429s | 429 % |")
	fmt.Println("| ---: | ---: | ---: | ---: | ---: |")
	return runMock(mockFor, every, lat)
}

// runWork drives an AdaptiveLimit in a Gate with calls whose latency
// depends only on the work.
func runWork(d, every time.Duration) {
	a := sluice.NewAdaptiveLimit(1, 64)
	g := sluice.NewGate(a)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 100 {
		rng := rand.New(rand.NewPCG(1, uint64(i)))
		wg.Go(func() {
			for ctx.Err() == nil {
				p, err := g.Acquire(ctx, sluice.Cost{})
				if err != nil {
					return
				}
				time.Sleep(200*time.Millisecond + time.Duration(rng.Int64N(int64(3800*time.Millisecond))))
				p.Done(sluice.Outcome{})
			}
		})
	}
	every1(ctx, every, func(t time.Duration) {
		fmt.Printf("| %v | %d | %d |\n", t, a.Ceiling(), g.Stats().Completed)
	})
	wg.Wait()
}

// runMock drives the mock API through a Transport.
func runMock(d, every time.Duration, lat mock.Latency) error {
	srv, err := mock.Start(mock.Config{Style: mock.Anthropic, Concurrency: 5, Latency: lat, Seed: 1})
	if err != nil {
		return err
	}
	defer srv.Close()
	tr := &sluice.Transport{Limits: sluice.Limits{Concurrency: 64}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	const body = `{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hello"}]}`
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL()+"/v1/messages", strings.NewReader(body))
				if err != nil {
					return
				}
				req.Header.Set("content-type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					continue // cancelled at the end, or out of retries
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	every1(ctx, every, func(t time.Duration) {
		st := srv.Stats()
		fmt.Printf("| %v | %d | %d | %d | %.2f%% |\n", t, tr.Stats().Ceiling, st.Requests, st.ThrottledTotal(),
			100*float64(st.ThrottledTotal())/float64(max(st.Requests, 1)))
	})
	wg.Wait()
	return nil
}

// every1 calls f with the time elapsed every step until ctx is done, and
// once more at the end.
func every1(ctx context.Context, step time.Duration, f func(time.Duration)) {
	begin := time.Now()
	tick := time.NewTicker(step)
	defer tick.Stop()
	var last time.Duration
	for {
		select {
		case <-tick.C:
			last = time.Since(begin).Round(time.Second)
			f(last)
		case <-ctx.Done():
			if t := time.Since(begin).Round(time.Second); t != last {
				f(t)
			}
			return
		}
	}
}
