// Command mcpbench measures `sluice mcp` as an agent uses it, checking the
// issue's claim: an agent that must fetch 500 URLs does it in one tool
// call, as fast as the API allows and never over its limit.
//
// The API is a loopback HTTP server in this process with a 20 ms latency
// and a concurrency limit (10 by default): a request over the limit is
// refused with 429 and Retry-After: 1, as APIs that limit concurrency do.
// It counts the requests in its handlers at once (the peak, refused ones
// included) and the 429s it sent. The physical minimum is
// N × latency / limit (500 × 20 ms / 10 = 1 s).
//
// Three ways to fetch the same 500 URLs, one after the other in one run:
//
//   - sluice mcp: the real command (built from this repository, started
//     as an MCP client starts it, over stdio, with --concurrency and
//     --global-concurrency at the API's limit) and one fetch_many call
//     from the go-sdk's client;
//   - naive: one goroutine per URL, all at once, each a plain GET (what an
//     agent that launches its fetches in parallel does), no retries;
//   - sequential: the same sluice mcp session, one fetch_many of one URL
//     per tool call, one call after another (what an agent that calls a
//     single-URL fetch tool in a loop does).
//
// It prints a markdown table: elapsed, elapsed ÷ physical minimum,
// succeeded, 429s and the peak concurrency at the API.
//
//	cd bench && go run ./cmd/mcpbench [-n 500] [-latency 20ms] [-limit 10]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

var (
	nFlag       = flag.Int("n", 500, "URLs to fetch")
	latencyFlag = flag.Duration("latency", 20*time.Millisecond, "the API's latency")
	limitFlag   = flag.Int("limit", 10, "the API's concurrency limit")
	seqFlag     = flag.Bool("sequential", true, "run the sequential pattern (about n × latency)")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mcpbench:", err)
		os.Exit(1)
	}
}

// api is the loopback API: latency, a concurrency limit, counts.
type api struct {
	latency  time.Duration
	limit    int64
	inFlight atomic.Int64
	peak     atomic.Int64
	refused  atomic.Int64
	served   atomic.Int64
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := a.inFlight.Add(1)
	defer a.inFlight.Add(-1)
	for old := a.peak.Load(); n > old && !a.peak.CompareAndSwap(old, n); old = a.peak.Load() {
	}
	if n > a.limit {
		a.refused.Add(1)
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"error":{"message":"Number of concurrent connections has exceeded your rate limit"}}`, http.StatusTooManyRequests)
		return
	}
	time.Sleep(a.latency)
	a.served.Add(1)
	fmt.Fprintf(w, "page %s\n", r.URL.Path)
}

func (a *api) reset() {
	a.peak.Store(0)
	a.refused.Store(0)
	a.served.Store(0)
}

type row struct {
	name      string
	elapsed   time.Duration
	succeeded int
	refused   int64
	peak      int64
}

func run() error {
	a := &api{latency: *latencyFlag, limit: int64(*limitFlag)}
	srv := httptest.NewServer(a)
	defer srv.Close()
	urls := make([]string, *nFlag)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/%d", srv.URL, i)
	}
	minimum := time.Duration(*nFlag) * *latencyFlag / time.Duration(*limitFlag)

	dir, err := os.MkdirTemp("", "mcpbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "sluice")
	logf("building sluice")
	build := exec.Command("go", "build", "-o", bin, "./cmd/sluice")
	build.Dir = ".."
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building sluice: %w", err)
	}
	limit := fmt.Sprint(*limitFlag)
	args := []string{"mcp", "--allow-private", "--concurrency", limit, "--global-concurrency", limit}
	ctx := context.Background()
	cmd := exec.Command(bin, args...)
	cmd.Stderr = io.Discard
	client := sdk.NewClient(&sdk.Implementation{Name: "mcpbench", Version: "v0"}, nil)
	cs, err := client.Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		return fmt.Errorf("starting sluice mcp: %w", err)
	}
	defer cs.Close()

	var rows []row

	logf("sluice mcp: one fetch_many of %d URLs", len(urls))
	a.reset()
	start := time.Now()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "fetch_many", Arguments: map[string]any{"urls": urls}})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	sum, err := summary(res)
	if err != nil {
		return err
	}
	rows = append(rows, row{"sluice mcp, one fetch_many", elapsed, sum.Succeeded, a.refused.Load(), a.peak.Load()})

	logf("naive: %d goroutines", len(urls))
	a.reset()
	nr := naive(urls)
	nr.refused, nr.peak = a.refused.Load(), a.peak.Load()
	rows = append(rows, nr)

	if *seqFlag {
		logf("sequential: %d tool calls of one URL", len(urls))
		a.reset()
		start = time.Now()
		ok := 0
		for _, u := range urls {
			res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "fetch_many", Arguments: map[string]any{"urls": []string{u}}})
			if err != nil {
				return err
			}
			s, err := summary(res)
			if err != nil {
				return err
			}
			ok += s.Succeeded
		}
		rows = append(rows, row{"sequential, one fetch per tool call", time.Since(start), ok, a.refused.Load(), a.peak.Load()})
	}

	fmt.Printf("%d URLs, API latency %v, API concurrency limit %d (over it: 429 + Retry-After: 1); physical minimum %v.\n",
		len(urls), *latencyFlag, *limitFlag, minimum)
	fmt.Printf("%s, %s %s/%s, %d CPUs, %s.\n\n", hostCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| pattern | elapsed | ÷ physical minimum | succeeded | 429s | peak concurrency at the API |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Printf("| %s | %v | %.2f | %d / %d | %d | %d |\n", r.name, r.elapsed.Round(time.Millisecond),
			float64(r.elapsed)/float64(minimum), r.succeeded, len(urls), r.refused, r.peak)
	}
	fmt.Printf("\nsluice mcp ran as `sluice %s`.\n", strings.Join(args, " "))
	return nil
}

// naive fetches every URL at once, one goroutine each, as an agent that
// launches its fetches in parallel does.
func naive(urls []string) row {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = len(urls)
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	var ok atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, u := range urls {
		wg.Go(func() {
			resp, err := client.Get(u)
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	return row{name: "naive, one goroutine per URL", elapsed: time.Since(start), succeeded: int(ok.Load())}
}

// summary reads the summary of a fetch_many result.
func summary(res *sdk.CallToolResult) (struct{ Succeeded, Failed int }, error) {
	var out struct {
		Summary struct {
			Succeeded int `json:"succeeded"`
			Failed    int `json:"failed"`
		} `json:"summary"`
	}
	if res.IsError {
		return struct{ Succeeded, Failed int }{}, fmt.Errorf("tool error: %v", res.Content)
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err == nil {
		err = json.Unmarshal(raw, &out)
	}
	return struct{ Succeeded, Failed int }{out.Summary.Succeeded, out.Summary.Failed}, err
}

func hostCPU() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
		}
	}
	return "unknown CPU"
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mcpbench: "+format+"\n", args...)
}
