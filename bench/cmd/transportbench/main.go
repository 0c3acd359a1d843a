// Command transportbench times an http.Client through sluice.Transport
// beside a plain http.Client, 200k GETs from 64 goroutines against an
// instant server in another process, and reports req/s and CPU per
// request as ratios to the plain client measured in the same round,
// median and range over the rounds, with the adaptive ceiling each
// sluice client ends at.
//
//	cd bench && go run ./cmd/transportbench [-n 200000] [-c 64] [-runs 5]
//
// Every client runs in a child process of its own (this program re-run),
// so that its CPU time (user+sys, from the kernel, over the timed run
// only) is its own; the server is a third process. Within a round the clients run in a rotating order,
// so that machine noise falls on all of them alike.
//
// On a shared machine a round's ratios swing by ±15% with what the other
// processes do, so one run of 3 rounds says little. Prefer many short
// rounds (-n 50000 -runs 12): the median of the per-round ratios then
// moves less from run to run, and the middle half of the ratios (the
// rounds between the quartiles) shows how far to trust it, where the
// range shows the worst moments. The least CPU of each client says little:
// the plain client's least may fall in a quiet moment that another
// client's run missed. The load average before and after says what the
// machine was doing; compare code with -before, in one run, never across
// runs: each client is then paired, round by round, with its twin.
//
// The zero Transport (-clients zero) lets 8 calls in flight, and its 64
// callers queue for them: beside it, the queued client, a plain client
// behind a channel of 8 slots, says what queueing at its cheapest costs,
// so that what is left is the gate's. The timeout client is sluice with
// sluice run's AttemptTimeout (60s).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluicehq/sluice"
)

var (
	nFlag      = flag.Int("n", 200000, "GETs per client run")
	cFlag      = flag.Int("c", 64, "goroutines making the GETs, and the sluice Transport's Concurrency")
	runsFlag   = flag.Int("runs", 5, "rounds; each round runs every client once")
	clientFlag = flag.String("clients", "plain,sluice,zero", "clients to run, comma separated: plain, sluice (Limits{Concurrency: c}), zero (the zero Transport), fixed (Limits{Concurrency: c} with the ceiling not adaptive), timeout (sluice with the AttemptTimeout of sluice run, 60s), queued (the plain client with a channel of sluice.DefaultConcurrency slots in front: the least the zero Transport's queueing can cost)")
	childEnv   = flag.String("child-env", "", "extra environment for the client children, space separated")
	beforeFlag = flag.String("before", "", "a transportbench binary built against other sluice code (say, the previous commit's): clients named before-KIND run its client KIND, beside this build's, for an A/B in one run")
	warmFlag   = flag.Int("warm", 0, "GETs each client makes from one goroutine before the timed run, as a program that starts gently does; the adaptive ceiling learns its baseline latency from them")
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "server":
			server()
			return
		case "client":
			client(os.Args[2:])
			return
		}
	}
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "transportbench:", err)
		os.Exit(1)
	}
}

// result is what a client child reports on its stdout, as JSON.
type result struct {
	Client string        `json:"client"`
	Wall   time.Duration `json:"wall"`
	// CPU is the child's CPU time (user+sys, all threads, from the
	// kernel) during the timed run: not its start, nor the warm-up,
	// which would dilute the difference between clients.
	CPU      time.Duration `json:"cpu"`
	MaxRSS   int64         `json:"max_rss"`
	Ceiling  int           `json:"ceiling"`  // at the end
	Ceilings []int         `json:"ceilings"` // every 100ms from the end of the warm-up
	Failed   int64         `json:"failed"`
	Throttle int64         `json:"throttled"`
	Mallocs  uint64        `json:"mallocs"` // heap allocations during the timed run
	Bytes    uint64        `json:"bytes"`   // bytes allocated on the heap during the timed run
	GCs      uint32        `json:"gcs"`     // garbage collections during the timed run
}

func run() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	clients := strings.Split(*clientFlag, ",")
	if !slices.Contains(clients, "plain") {
		return fmt.Errorf("-clients %q: the plain client is the anchor, keep it", *clientFlag)
	}

	srv := exec.Command(self, "server")
	srvIn, err := srv.StdinPipe()
	if err != nil {
		return err
	}
	srvOut, err := srv.StdoutPipe()
	if err != nil {
		return err
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		srvIn.Close() // the server exits when its stdin closes
		srv.Wait()
	}()
	url, err := bufio.NewReader(srvOut).ReadString('\n')
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	url = strings.TrimSpace(url)

	started := time.Now().UTC()
	loadBefore := loadAverage()
	results := map[string][]result{}
	for r := range *runsFlag {
		order := slices.Clone(clients)
		for range r % len(order) {
			order = append(order[1:], order[0])
		}
		for _, c := range order {
			res, err := runClient(self, c, url)
			if err != nil {
				return err
			}
			results[c] = append(results[c], res)
			fmt.Fprintf(os.Stderr, "transportbench: round %d %-6s %6.0f req/s, %.1f µs CPU/req, ceiling %d\n",
				r+1, c, float64(*nFlag)/res.Wall.Seconds(), perReq(res.CPU), res.Ceiling)
		}
	}

	fmt.Printf("### Transport: %d GETs from %d goroutines, instant server in another process, %d rounds\n\n", *nFlag, *cFlag, *runsFlag)
	fmt.Printf("Started %s; `go run ./cmd/transportbench -n %d -c %d -runs %d -clients %s -warm %d`; load average %s before, %s after.\n\n",
		started.Format("Mon Jan 2 15:04 MST 2006"), *nFlag, *cFlag, *runsFlag, *clientFlag, *warmFlag, loadBefore, loadAverage())
	fmt.Println("| client | req/s (median) | req/s ÷ plain, median (range) | CPU/req µs (median) | CPU/req ÷ plain, median (range) | CPU/req ÷ plain, middle half | allocs/req | ceiling at the end (per round) | peak RSS |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
	plain := results["plain"]
	for _, c := range clients {
		rs := results[c]
		var rate, cpu, rateRatio, cpuRatio []float64
		var ceil []string
		var rss int64
		var mallocs []float64
		for i, res := range rs {
			mallocs = append(mallocs, float64(res.Mallocs)/float64(*nFlag))
			rate = append(rate, float64(*nFlag)/res.Wall.Seconds())
			cpu = append(cpu, perReq(res.CPU))
			rateRatio = append(rateRatio, plain[i].Wall.Seconds()/res.Wall.Seconds())
			cpuRatio = append(cpuRatio, float64(res.CPU)/float64(plain[i].CPU))
			ceil = append(ceil, strconv.Itoa(res.Ceiling))
			rss = max(rss, res.MaxRSS)
		}
		ceilings := strings.Join(ceil, ", ")
		if c == "plain" {
			ceilings = "–"
		}
		q1, q3 := quartiles(cpuRatio)
		fmt.Printf("| %s | %.0f | **%.3f** (%.3f–%.3f) | %.1f | **%.3f** (%.3f–%.3f) | %.3f–%.3f | %.1f | %s | %.1f MiB |\n",
			c, median(rate), median(rateRatio), slices.Min(rateRatio), slices.Max(rateRatio),
			median(cpu), median(cpuRatio), slices.Min(cpuRatio), slices.Max(cpuRatio),
			q1, q3, median(mallocs), ceilings, float64(rss)/(1<<20))
	}
	fmt.Println()
	for _, c := range clients {
		old, ok := results["before-"+c]
		if !ok {
			continue
		}
		var cpuRatio, rateRatio []float64
		for i, res := range results[c] {
			cpuRatio = append(cpuRatio, float64(res.CPU)/float64(old[i].CPU))
			rateRatio = append(rateRatio, old[i].Wall.Seconds()/res.Wall.Seconds())
		}
		fmt.Printf("- %s ÷ before-%s, paired by round: CPU/req %.3f (%.3f–%.3f), req/s %.3f (%.3f–%.3f)\n", c, c,
			median(cpuRatio), slices.Min(cpuRatio), slices.Max(cpuRatio), median(rateRatio), slices.Min(rateRatio), slices.Max(rateRatio))
	}
	for _, c := range clients {
		if c == "plain" {
			continue
		}
		last := results[c][len(results[c])-1]
		fmt.Printf("- %s, last round, the ceiling every 100 ms after the warm-up: %s\n", c, trail(last.Ceilings))
	}
	fmt.Println()
	return nil
}

// processCPU returns the CPU time this process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage returns the 1-minute load average, or "?" where the system
// does not say.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

func perReq(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(*nFlag) }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// quartiles returns the first and third quartiles of xs (the medians of
// its lower and upper halves).
func quartiles(xs []float64) (float64, float64) {
	s := slices.Clone(xs)
	sort.Float64s(s)
	half := len(s) / 2
	if half == 0 {
		return s[0], s[0]
	}
	return median(s[:half]), median(s[len(s)-half:])
}

// trail shortens a series of ceilings to its changes.
func trail(cs []int) string {
	var out []string
	for i, c := range cs {
		if i == 0 || c != cs[i-1] {
			out = append(out, fmt.Sprintf("%d@%.1fs", c, float64(i+1)/10))
		}
	}
	if len(out) > 24 {
		out = append(out[:24], "…")
	}
	return strings.Join(out, " ")
}

func runClient(self, c, url string) (result, error) {
	bin, kind := self, c
	if k, ok := strings.CutPrefix(c, "before-"); ok {
		if *beforeFlag == "" {
			return result{}, fmt.Errorf("client %s needs -before", c)
		}
		bin, kind = *beforeFlag, k
	}
	cmd := exec.Command(bin, "client", kind, url, strconv.Itoa(*nFlag), strconv.Itoa(*cFlag), strconv.Itoa(*warmFlag))
	cmd.Env = append(os.Environ(), strings.Fields(*childEnv)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("client %s: %w", c, err)
	}
	var res result
	if err := json.Unmarshal(out, &res); err != nil {
		return result{}, fmt.Errorf("client %s: %w: %q", c, err, out)
	}
	ps := cmd.ProcessState
	if res.CPU == 0 { // a -before binary that does not measure itself
		res.CPU = ps.UserTime() + ps.SystemTime()
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		res.MaxRSS = ru.Maxrss << 10
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("client %s: %d of %d GETs failed", c, res.Failed, *nFlag)
	}
	return res, nil
}

var okBody = []byte(`{"ok":true}`)

// server answers every request at once, until its stdin closes.
func server() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			h := w.Header()
			h["Content-Type"] = []string{"application/json"}
			h["Content-Length"] = []string{"11"}
			w.Write(okBody)
		}),
		IdleTimeout: 10 * time.Minute,
	}
	go srv.Serve(ln)
	fmt.Printf("http://%s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}

// client is one run: client KIND URL N C WARM.
func client(args []string) {
	kind, url := args[0], args[1]
	n, _ := strconv.Atoi(args[2])
	c, _ := strconv.Atoi(args[3])
	warm, _ := strconv.Atoi(args[4])
	if path := os.Getenv("TRANSPORTBENCH_CPUPROFILE"); path != "" {
		// Profiles the client (-child-env TRANSPORTBENCH_CPUPROFILE=FILE);
		// each client run overwrites the file.
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "client:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	var rt http.RoundTripper
	var st *sluice.Transport
	switch kind {
	case "plain":
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = c
		rt = tr
	case "queued":
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = sluice.DefaultConcurrency
		rt = &queued{base: tr, slots: make(chan struct{}, sluice.DefaultConcurrency)}
	case "sluice":
		st = &sluice.Transport{Limits: sluice.Limits{Concurrency: c}}
	case "zero":
		st = &sluice.Transport{}
	case "timeout":
		st = &sluice.Transport{Limits: sluice.Limits{Concurrency: c}, AttemptTimeout: time.Minute}
	case "fixed":
		st = &sluice.Transport{Limits: sluice.Limits{Concurrency: c, FixedConcurrency: true}}
	default:
		fmt.Fprintf(os.Stderr, "client: unknown kind %q\n", kind)
		os.Exit(2)
	}
	if st != nil {
		rt = st
	}
	hc := &http.Client{Transport: rt}

	res := result{Client: kind}
	var next, failed atomic.Int64
	for range warm {
		resp, err := hc.Get(url)
		if err != nil {
			failed.Add(1)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// The ceiling is watched from the end of the warm-up, when the climb
	// starts: it does not move while one call at a time leaves it unused.
	stop := make(chan struct{})
	var watch sync.WaitGroup
	if st != nil {
		watch.Go(func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					res.Ceilings = append(res.Ceilings, st.Stats().Ceiling)
				}
			}
		})
	}

	if os.Getenv("TRANSPORTBENCH_MEMPROFILE") != "" {
		// Samples every allocation of the timed run
		// (-child-env TRANSPORTBENCH_MEMPROFILE=FILE), written at its end.
		runtime.MemProfileRate = 1
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	cpuBefore := processCPU()
	var wg sync.WaitGroup
	begin := time.Now()
	for range c {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				resp, err := hc.Get(url)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	res.Wall = time.Since(begin)
	res.CPU = processCPU() - cpuBefore
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	res.Mallocs = after.Mallocs - before.Mallocs
	res.Bytes = after.TotalAlloc - before.TotalAlloc
	res.GCs = after.NumGC - before.NumGC
	if path := os.Getenv("TRANSPORTBENCH_MEMPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	close(stop)
	watch.Wait()
	res.Failed = failed.Load()
	if st != nil {
		s := st.Stats()
		res.Ceiling, res.Throttle = s.Ceiling, s.Throttled
	}
	json.NewEncoder(os.Stdout).Encode(res)
}

// queued is the zero Transport's queueing at its cheapest: callers take a
// slot of a buffered channel (the Go runtime's own FIFO of parked
// goroutines) before the round trip and give it back when the body is
// closed, as the zero Transport holds its slot. Beside "zero" it says what
// of the zero Transport's cost is having 8 calls in flight rather than 64,
// and what is the gate's.
type queued struct {
	base  http.RoundTripper
	slots chan struct{}
}

func (q *queued) RoundTrip(req *http.Request) (*http.Response, error) {
	q.slots <- struct{}{}
	resp, err := q.base.RoundTrip(req)
	if err != nil {
		<-q.slots
		return nil, err
	}
	resp.Body = &slotBody{ReadCloser: resp.Body, slots: q.slots}
	return resp, nil
}

// slotBody gives its slot back once, when closed.
type slotBody struct {
	io.ReadCloser
	slots chan struct{}
	done  bool
}

func (b *slotBody) Close() error {
	err := b.ReadCloser.Close()
	if !b.done {
		b.done = true
		<-b.slots
	}
	return err
}
