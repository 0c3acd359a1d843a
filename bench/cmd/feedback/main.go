// Command feedback measures the Transport against a strict API on
// loopback: 200 requests per sliding second, 10 in flight, 20ms per
// request, refusing the excess with 429. It sends the same batch three
// ways and prints, for each, the time against the physical minimum (and
// against the time an even pace at exactly the limit needs) and
// what the API refused:
//
//   - given: the limits are given (Rate 200/s, Concurrency 10);
//
//   - learned: nothing is given; the Transport learns from the API's
//     RateLimit headers and adapts its concurrency;
//
//   - xrate: a plain http.Client paced by golang.org/x/time/rate at
//     exactly the limit (200/s, burst 1) and x/sync's semaphore (10), no
//     retries: what a careful program would write without sluice;
//
//   - naive: a plain http.Client, every request at once, no retries;
//
//   - learned-429: nothing is given, and the API sends no rate-limit
//     headers, only 429s and their Retry-After: the Transport learns a
//     pace from the 429s alone.
//
// Each round runs every scenario once, against a fresh API; the table
// gives the median over the rounds and the range.
//
//	go run ./cmd/feedback [-n 2000] [-workers 64] [-runs 3] [-hog 2] [-only given]
//
// It also reports the tightest window at the API: the shortest time any
// limit+1 arrivals took there, which shows the margin that held. For
// each round it says on stderr how long the arrivals' lulls were beyond
// the paced interval and maxLate (gaps of more than 7 ms): what the pace
// lost to timer lag it did not forgive, the cost of a loaded machine;
// where the round's time went (the first arrival, the arrivals' span
// against (n-1)/limit, the tail after the last); each 429 and why; and,
// for sluice's scenarios, how the admissions were spaced (seen from a
// Base under the Transport), how late after admission requests were
// written, and the tightest limit+1 admissions, writes and arrivals, which
// say where a window was compressed: before the write or after it.
// -hog n loads the machine the same way for every scenario and build: n
// goroutines spinning in a child process for the whole run.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/apitest"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

func main() {
	n := flag.Int("n", 2000, "requests per scenario")
	workers := flag.Int("workers", 64, "goroutines sending")
	runs := flag.Int("runs", 3, "rounds of all the scenarios")
	hog := flag.Int("hog", 0, "goroutines spinning in a child process meanwhile, to load the machine")
	only := flag.String("only", "", "run only the scenarios whose name contains this")
	flag.Parse()
	if os.Getenv(hogEnv) != "" {
		spin(*hog)
	}
	if *hog > 0 {
		stop, err := startHog(*hog)
		if err != nil {
			fmt.Fprintln(os.Stderr, "feedback:", err)
			os.Exit(1)
		}
		defer stop()
	}

	const limit, concurrency, latency = 200, 10, 20 * time.Millisecond
	minimum := max(time.Duration(*n)*time.Second/limit, time.Duration(*n)*latency/concurrency)
	// Starts spread evenly at exactly the limit, the first at once: the
	// last starts n-1 intervals in and takes latency. No sender pacing
	// evenly (burst 1) finishes sooner, though one that bursts each
	// window's calls may (by about the window less n/limit's tail).
	evenly := max(time.Duration(*n-1)*time.Second/limit, time.Duration(*n)*latency/concurrency) + latency
	fmt.Printf("%d requests from %d goroutines; API: %d/s sliding window, %d in flight, %v latency; physical minimum %v (n/rate); evenly paced at the limit %v ((n-1)/rate + latency, %.4f× it)\n",
		*n, *workers, limit, concurrency, latency, minimum, evenly, float64(evenly)/float64(minimum))
	fmt.Printf("go %s, %d CPUs, %s\n\n", runtime.Version(), runtime.NumCPU(), time.Now().UTC().Format(time.RFC3339))

	scenarios := []scenario{
		{"given (rate 200/s, concurrency 10)", func() (*http.Client, func()) {
			l := sluice.Limits{Rate: sluice.PerSecond(limit), Concurrency: concurrency}
			w := watch(l.HTTPTransport())
			tr := &sluice.Transport{Limits: l, Base: w}
			w.stats = tr.Stats
			return &http.Client{Transport: tr}, tr.CloseIdleConnections
		}, false},
		{"learned (nothing given)", func() (*http.Client, func()) {
			w := watch(sluice.Limits{}.HTTPTransport())
			tr := &sluice.Transport{Base: w}
			w.stats = tr.Stats
			return &http.Client{Transport: tr}, tr.CloseIdleConnections
		}, false},
		{"xrate at the limit (200/s burst 1, x/sync semaphore 10)", plainClient(*workers), true},
		{"naive (plain http.Client)", plainClient(*workers), false},
		{bare429, func() (*http.Client, func()) {
			tr := &sluice.Transport{}
			return &http.Client{Transport: tr}, tr.CloseIdleConnections
		}, false},
	}
	scenarios = slices.DeleteFunc(scenarios, func(sc scenario) bool { return !strings.Contains(sc.name, *only) })
	type row struct {
		ratio        []float64
		evenRatio    []float64       // time ÷ the evenly paced floor
		tightest     []time.Duration // the shortest span of limit+1 arrivals
		ok, refused  []int
		requestCount []int
	}
	rows := make([]row, len(scenarios))
	for r := range *runs {
		for i, sc := range scenarios {
			api := &apitest.Server{Limit: limit, Window: time.Second, Concurrency: concurrency, Latency: latency, Headers: true, RetryAfter: true}
			api.Headers = sc.name != bare429
			var arrivals []time.Time
			var refusals []refusal
			var arrivalsMu sync.Mutex
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				at := time.Now()
				arrivalsMu.Lock()
				arrivals = append(arrivals, at)
				arrivalsMu.Unlock()
				sw := &statusWriter{ResponseWriter: w}
				api.ServeHTTP(sw, req)
				if sw.status == http.StatusTooManyRequests {
					arrivalsMu.Lock()
					refusals = append(refusals, refusal{at: at, body: sw.body})
					arrivalsMu.Unlock()
				}
			}))
			client, closeIdle := sc.client()
			var pace func(context.Context) (func(), error)
			if sc.paced {
				rl := rate.NewLimiter(rate.Limit(limit), 1)
				sem := semaphore.NewWeighted(concurrency)
				pace = func(ctx context.Context) (func(), error) {
					if err := sem.Acquire(ctx, 1); err != nil {
						return nil, err
					}
					if err := rl.Wait(ctx); err != nil {
						sem.Release(1)
						return nil, err
					}
					return func() { sem.Release(1) }, nil
				}
			}
			begin := time.Now()
			ok := send(client, srv.URL, *n, *workers, pace)
			elapsed := time.Since(begin)
			closeIdle()
			srv.Close()
			c := api.Counts()
			rows[i].ratio = append(rows[i].ratio, float64(elapsed)/float64(minimum))
			rows[i].evenRatio = append(rows[i].evenRatio, float64(elapsed)/float64(evenly))
			rows[i].ok = append(rows[i].ok, ok)
			rows[i].refused = append(rows[i].refused, int(c.Throttled()))
			rows[i].requestCount = append(rows[i].requestCount, int(c.Requests))
			rows[i].tightest = append(rows[i].tightest, tightestSpan(arrivals, limit+1))
			fmt.Fprintf(os.Stderr, "feedback: round %d, %s: %.3f of the minimum, %d succeeded, %d 429s, lulls %v\n",
				r+1, sc.name, rows[i].ratio[r], ok, c.Throttled(), lulls(arrivals, pacedLull).Round(time.Millisecond))
			fmt.Fprintf(os.Stderr, "feedback:   %s; tightest %d arrivals %v\n", breakdown(begin, elapsed, arrivals, limit), limit+1, tightestSpan(arrivals, limit+1).Round(100*time.Microsecond))
			if w := watched; w != nil {
				fmt.Fprintf(os.Stderr, "feedback:   %s\n", w.report(begin, limit))
				watched = nil
			}
			for _, f := range refusals[:min(len(refusals), 5)] {
				fmt.Fprintf(os.Stderr, "feedback:   429 at %v: %s\n", f.at.Sub(begin).Round(100*time.Microsecond), f.body)
			}
		}
	}
	fmt.Println("| scenario | time ÷ minimum, median (range) | ÷ evenly paced floor | succeeded (per round) | 429s at the API (per round) | tightest window at the API (per round) |")
	fmt.Println("| --- | ---: | ---: | --- | --- | --- |")
	for i, sc := range scenarios {
		fmt.Printf("| %s | **%s** | %s | %s | %s | %s |\n", sc.name, medianRange(rows[i].ratio), medianRange(rows[i].evenRatio), ints(rows[i].ok), ints(rows[i].refused), spans(rows[i].tightest))
	}
	fmt.Printf("\nThe tightest window is the shortest time any %d arrivals took at the API, accepted or refused: under 1s, a sliding window of %d/s was broken; its excess over 1s is the margin that held.\n", limit+1, limit)
}

// medianRange formats the median of xs and their range.
func medianRange(xs []float64) string {
	rs := slices.Sorted(slices.Values(xs))
	med := rs[len(rs)/2]
	if len(rs)%2 == 0 {
		med = (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
	}
	return fmt.Sprintf("%.3f (%.3f–%.3f)", med, rs[0], rs[len(rs)-1])
}

// scenario is one way of sending the batch.
type scenario struct {
	name   string
	client func() (*http.Client, func())
	paced  bool // paced by x/time/rate and x/sync beside the client
}

// bare429 is the scenario whose API sends no rate-limit headers, only
// 429s and their Retry-After: the Transport learns a pace from the 429s.
const bare429 = "learned-429 (nothing given, the API sends 429s alone)"

// pacedLull is a gap between arrivals longer than a start paced at the
// limit with sluice's margin (apiSafe: 6 ms a second) and the timer lag
// it forgives (maxLate, 2 ms) ever leaves.
const pacedLull = (time.Second+6*time.Millisecond)/200 + 2*time.Millisecond

// lulls returns how much longer than over the gaps between consecutive
// arrivals were, added up.
func lulls(arrivals []time.Time, over time.Duration) time.Duration {
	sorted := slices.SortedFunc(slices.Values(arrivals), time.Time.Compare)
	var sum time.Duration
	for k := 1; k < len(sorted); k++ {
		sum += max(sorted[k].Sub(sorted[k-1])-over, 0)
	}
	return sum
}

// tightestSpan returns the shortest time between arrivals k and k+n-1,
// over every k: how close the busiest n arrivals came together. Zero when
// fewer than n arrived.
func tightestSpan(arrivals []time.Time, n int) time.Duration {
	slices.SortFunc(arrivals, func(a, b time.Time) int { return a.Compare(b) })
	tightest := time.Duration(0)
	for k := 0; k+n-1 < len(arrivals); k++ {
		if d := arrivals[k+n-1].Sub(arrivals[k]); tightest == 0 || d < tightest {
			tightest = d
		}
	}
	return tightest
}

func spans(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.Round(100 * time.Microsecond).String()
	}
	return strings.Join(s, ", ")
}

func plainClient(workers int) func() (*http.Client, func()) {
	return func() (*http.Client, func()) {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = workers
		return &http.Client{Transport: tr}, tr.CloseIdleConnections
	}
}

func ints(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

// send makes n GETs from workers goroutines and returns how many got 200.
// A non-nil pace is called before each GET, and what it returns after.
func send(client *http.Client, url string, n, workers int, pace func(context.Context) (func(), error)) int {
	var mu sync.Mutex
	ok := 0
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range jobs {
				release := func() {}
				if pace != nil {
					var err error
					if release, err = pace(context.Background()); err != nil {
						fmt.Fprintln(os.Stderr, err)
						continue
					}
				}
				resp, err := client.Get(url)
				if err != nil {
					release()
					fmt.Fprintln(os.Stderr, err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				release()
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
