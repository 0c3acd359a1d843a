// Command runbench measures `sluice run` as a user runs it: it builds the
// sluice binary and runs it as a child process against servers in this
// process, checking two performance targets of DESIGN.md ("Performance
// targets"):
//
//   - Runner overhead: at least 20,000 items/s against an instant local
//     server; memory independent of the number of items except an id index
//     of at most 40 bytes per item (1M items under 64 MiB). An http-format
//     input of 10k, 200k and 1M GETs goes to a loopback server that answers
//     200 {"ok":true} at once, with `sluice run -c 64 --progress none`.
//     Wall time gives items/s; the child's peak RSS (getrusage ru_maxrss)
//     gives memory, and (RSS(1M) - RSS(10k)) / (1M - 10k) the bytes per
//     item beyond the baseline.
//
//   - Known and learned limits: 600 Anthropic-format requests go to the
//     mock API (internal/mock, style anthropic, 50 requests/s, 10 in
//     flight, 50ms±20ms latency) with the limits given (--rate 50/s -c 10)
//     and with nothing given (learned from headers), reporting the time
//     against the physical minimum and the 429s the mock counted.
//
// It prints markdown tables with the machine, Go version, date and
// command. With -profile (or when the overhead target is missed, unless
// -profile=never), it also runs the same batch in process (./inproc, a
// nested module so that this one needs no new requirements) under the CPU
// profiler, and prints the top functions.
//
//	cd bench && go run ./cmd/runbench [-sizes 10000,200000,1000000] [-c 64]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/internal/mock"
)

// The targets, from DESIGN.md.
const (
	targetItemsPerSec = 20000
	targetBytesPerID  = 40
	targetRSS1M       = 64 << 20
)

var (
	sizesFlag   = flag.String("sizes", "10000,200000,1000000", "input sizes for the overhead runs, comma separated; the first is the RSS baseline")
	concFlag    = flag.Int("c", 64, "sluice run -c for the overhead runs")
	formatFlag  = flag.String("format", "http", "input format for the overhead runs: http or urls")
	runsFlag    = flag.Int("runs", 1, "runs per size; the table shows the median wall time and the largest RSS")
	mockFlag    = flag.Bool("mock", true, "run the mock API scenarios")
	mockN       = flag.Int("mock-n", 600, "requests per mock scenario")
	profileFlag = flag.String("profile", "auto", "in-process CPU profile: auto (when a target is missed), always or never")
	profileN    = flag.Int("profile-n", 200000, "items in the profiled in-process run")
	keepFlag    = flag.Bool("keep", false, "keep the temporary directory (inputs, outputs, profiles, the overhead runs' stderr)")
	naiveFlag   = flag.Bool("naive", true, "also run the plain batch client (this program re-run as a child) beside sluice in every run, for ratios measured in the same run")
	beforeFlag  = flag.String("before", "", "a sluice binary built from other code (say, the previous commit): run beside this build and the plain client in every run, for an A/B in one run")
	envFlag     = flag.String("child-env", "", "extra environment for the overhead runs' children, space separated, e.g. 'GOGC=50 GODEBUG=gctrace=1'")
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "naive-child" {
		naiveChild(os.Args[2:])
		return
	}
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "runbench:", err)
		os.Exit(1)
	}
}

func run() error {
	benchDir, rootDir, err := findDirs()
	if err != nil {
		return err
	}
	sizes, err := parseSizes(*sizesFlag)
	if err != nil {
		return err
	}
	if *formatFlag != "http" && *formatFlag != "urls" {
		return fmt.Errorf("-format %q: want http or urls", *formatFlag)
	}
	tmp, err := os.MkdirTemp("", "runbench-")
	if err != nil {
		return err
	}
	if *keepFlag {
		fmt.Fprintf(os.Stderr, "runbench: keeping %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	started := time.Now().UTC()
	bin := filepath.Join(tmp, "sluice")
	logf("building %s", bin)
	if out, err := goCmd(rootDir, "build", "-o", bin, "./cmd/sluice").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/sluice: %v\n%s", err, out)
	}

	// The instant server.
	srv, err := startInstant()
	if err != nil {
		return err
	}
	defer srv.close()

	floor := processFloor(bin)

	var rows []overheadRow
	for _, n := range sizes {
		in := filepath.Join(tmp, fmt.Sprintf("in-%d.jsonl", n))
		logf("writing %d %s lines to %s", n, *formatFlag, in)
		if err := writeInstantInput(in, n, srv.url, *formatFlag); err != nil {
			return err
		}
		row, err := overheadRuns(bin, tmp, in, n, srv)
		if err != nil {
			return err
		}
		rows = append(rows, row)
		logf("%d items: %.2fs, %.0f items/s, peak RSS %.1f MiB", n, row.wall.Seconds(), row.perSec(), mib(row.maxRSS))
	}

	var naive *overheadRow
	if top := rows[len(rows)-1]; top.naive != nil {
		naive = top.naive
	}

	var mocks []mockRow
	if *mockFlag {
		mocks, err = mockScenarios(bin, tmp, *mockN)
		if err != nil {
			return err
		}
	}

	// The report.
	fmt.Println()
	printHeader(benchDir, rootDir, started)
	missed := printOverhead(rows, floor, naive)
	if len(mocks) > 0 {
		printMocks(mocks, *mockN)
	}

	if *profileFlag == "always" || *profileFlag == "auto" && missed {
		if err := profileInProcess(benchDir, tmp, srv); err != nil {
			return fmt.Errorf("profile: %w", err)
		}
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "runbench: "+format+"\n", args...)
}

// findDirs returns the bench module's directory (the working directory or
// one above it) and the root module's.
func findDirs() (bench, root string, err error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/sluicehq/sluice/bench\n")) {
			return d, filepath.Dir(d), nil
		}
		if filepath.Dir(d) == d {
			return "", "", fmt.Errorf("run from the bench module (cd bench && go run ./cmd/runbench); %s is not in it", dir)
		}
	}
}

func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-sizes: %q is not a positive number", f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

func goCmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	return cmd
}

// instant is a loopback HTTP server that answers every request at once.
type instant struct {
	url   string
	srv   *http.Server
	hits  atomic.Int64
	conns atomic.Int64 // connections opened
}

var okBody = []byte(`{"ok":true}`)

func startInstant() (*instant, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &instant{url: "http://" + ln.Addr().String()}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			s.hits.Add(1)
			h := w.Header()
			h["Content-Type"] = []string{"application/json"}
			h["Content-Length"] = []string{"11"}
			w.Write(okBody)
		}),
		IdleTimeout: 10 * time.Minute, // keep-alive for the whole run
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.conns.Add(1)
			}
		},
	}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *instant) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
}

// writeInstantInput writes n lines for the instant server.
func writeInstantInput(path string, n int, base, format string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := 1; i <= n; i++ {
		if format == "urls" {
			fmt.Fprintf(w, "%s/x?i=%d\n", base, i)
		} else {
			fmt.Fprintf(w, `{"id":%d,"url":"%s/x"}`+"\n", i, base)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// child is one finished run of the sluice binary.
type child struct {
	wall     time.Duration
	maxRSS   int64 // bytes
	cpu      time.Duration
	exit     int
	stderr   string
	selfCPU  time.Duration // this process's CPU meanwhile: the servers
	summary  string        // sluice's summary line
	sumRate  float64       // the rate it printed
	sumThrot int64         // the throttled count it printed
}

// genericShape matches the type arguments pprof prints for generic
// functions, which run to hundreds of characters.
var genericShape = regexp.MustCompile(`\[go\.shape[^\n]*?\}\]`)

// sluice run's summary: the counts line, the attempts line with the 429s,
// and the achieved rate.
var (
	summaryRE  = regexp.MustCompile(`sluice: \d+ succeeded, [^\n]*`)
	throttleRE = regexp.MustCompile(`sluice: \d+ attempts \(\d+ retries\); (\d+) answered 429`)
	rateRE     = regexp.MustCompile(`sluice: ([\d.]+) items/s over`)
)

func runChild(bin string, env []string, args ...string) (child, error) {
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), env...)
	before := selfCPU()
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return child{}, err
	}
	err := cmd.Wait()
	c := child{wall: time.Since(begin), selfCPU: selfCPU() - before, stderr: stderr.String()}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			return c, err
		}
	}
	ps := cmd.ProcessState
	c.exit = ps.ExitCode()
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		c.maxRSS = ru.Maxrss << 10 // KiB on Linux
	}
	c.cpu = ps.UserTime() + ps.SystemTime()
	if m := summaryRE.FindString(c.stderr); m != "" {
		c.summary = strings.TrimSpace(m)
	}
	if m := throttleRE.FindStringSubmatch(c.stderr); m != nil {
		c.summary += "; " + strings.TrimPrefix(m[0], "sluice: ")
		c.sumThrot, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := rateRE.FindStringSubmatch(c.stderr); m != nil {
		c.sumRate, _ = strconv.ParseFloat(m[1], 64)
	}
	return c, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processFloor is the peak RSS of the binary doing nothing (sluice version).
func processFloor(bin string) int64 {
	c, err := runChild(bin, nil, "version")
	if err != nil {
		return 0
	}
	return c.maxRSS
}

type overheadRow struct {
	n        int
	naive    *overheadRow  // the plain batch client, run beside sluice
	ratios   []runRatio    // sluice ÷ the plain client, per run
	before   []runRatio    // the -before binary ÷ the plain client, per run
	wall     time.Duration // median
	walls    []time.Duration
	maxRSS   int64 // largest of the runs
	cpu      time.Duration
	selfCPU  time.Duration
	sumRate  float64
	conns    int64
	results  int
	exitCode int
}

func (r overheadRow) perSec() float64 { return float64(r.n) / r.wall.Seconds() }

// runRatio is sluice's figure over the plain client's in one run.
type runRatio struct{ rate, cpu, rss float64 }

// naiveRun runs the plain batch client once on in and checks its output.
func naiveRun(self, tmp, in string, n int, srv *instant) (child, error) {
	out := filepath.Join(tmp, fmt.Sprintf("naive-out-%d.jsonl", n))
	hits := srv.hits.Load()
	runtime.GC()
	c, err := runChild(self, nil, "naive-child", in, out, strconv.Itoa(*concFlag))
	if err != nil {
		return c, err
	}
	if c.exit != 0 || srv.hits.Load()-hits != int64(n) {
		return c, fmt.Errorf("plain client: exit %d, %d requests at the server:\n%s", c.exit, srv.hits.Load()-hits, c.stderr)
	}
	if lines, err := countLines(out); err != nil || lines != n {
		return c, fmt.Errorf("plain client: %d lines out of %d (%v)", lines, n, err)
	}
	os.Remove(out)
	return c, nil
}

func overheadRuns(bin, tmp, in string, n int, srv *instant) (overheadRow, error) {
	row := overheadRow{n: n}
	var cs, ns []child
	self, err := os.Executable()
	if err != nil {
		return row, err
	}
	for i := 0; i < *runsFlag; i++ {
		// The plain client goes first in odd runs and second in even
		// ones, so that a machine slowing down over the runs weighs on
		// both alike.
		var nc child
		if *naiveFlag && i%2 == 0 {
			if nc, err = naiveRun(self, tmp, in, n, srv); err != nil {
				return row, err
			}
		}
		out := filepath.Join(tmp, fmt.Sprintf("out-%d.jsonl", n))
		os.Remove(out)
		os.Remove(strings.TrimSuffix(out, ".jsonl") + ".errors.jsonl")
		hits, conns := srv.hits.Load(), srv.conns.Load()
		runtime.GC() // the server's garbage should not be collected in the middle of the next run
		c, err := runChild(bin, strings.Fields(*envFlag), "run", "-c", strconv.Itoa(*concFlag), "--progress", "none", "-o", out, in)
		if err != nil {
			return row, err
		}
		if *keepFlag {
			os.WriteFile(filepath.Join(tmp, fmt.Sprintf("out-%d.run%d.stderr", n, i+1)), []byte(c.stderr), 0o666)
		}
		if c.exit != 0 {
			return row, fmt.Errorf("sluice run on %d items exited %d:\n%s", n, c.exit, c.stderr)
		}
		lines, err := countLines(out)
		if err != nil {
			return row, err
		}
		if lines != n || srv.hits.Load()-hits != int64(n) {
			return row, fmt.Errorf("%d items: %d results lines, %d requests at the server", n, lines, srv.hits.Load()-hits)
		}
		row.results = lines
		row.conns = srv.conns.Load() - conns
		cs = append(cs, c)
		if *naiveFlag && i%2 == 1 {
			if nc, err = naiveRun(self, tmp, in, n, srv); err != nil {
				return row, err
			}
		}
		if *naiveFlag && *beforeFlag != "" {
			out := filepath.Join(tmp, fmt.Sprintf("before-out-%d.jsonl", n))
			os.Remove(out)
			os.Remove(strings.TrimSuffix(out, ".jsonl") + ".errors.jsonl")
			runtime.GC()
			bc, err := runChild(*beforeFlag, strings.Fields(*envFlag), "run", "-c", strconv.Itoa(*concFlag), "--progress", "none", "-o", out, in)
			if err != nil || bc.exit != 0 {
				return row, fmt.Errorf("-before on %d items: exit %d, %v:\n%s", n, bc.exit, err, bc.stderr)
			}
			row.before = append(row.before, runRatio{
				rate: nc.wall.Seconds() / bc.wall.Seconds(),
				cpu:  float64(bc.cpu) / float64(nc.cpu),
				rss:  float64(bc.maxRSS) / float64(nc.maxRSS),
			})
			logf("%d items, run %d: before %.0f/s; rate %.2f, CPU %.2f of the plain client's", n, i+1, float64(n)/bc.wall.Seconds(), row.before[i].rate, row.before[i].cpu)
		}
		if *naiveFlag {
			ns = append(ns, nc)
			row.ratios = append(row.ratios, runRatio{
				rate: nc.wall.Seconds() / c.wall.Seconds(),
				cpu:  float64(c.cpu) / float64(nc.cpu),
				rss:  float64(c.maxRSS) / float64(nc.maxRSS),
			})
			logf("%d items, run %d: sluice %.0f/s, plain %.0f/s; rate %.2f, CPU %.2f, RSS %.2f of the plain client's",
				n, i+1, float64(n)/c.wall.Seconds(), float64(n)/nc.wall.Seconds(), row.ratios[i].rate, row.ratios[i].cpu, row.ratios[i].rss)
		}
	}
	if len(ns) > 0 {
		sort.Slice(ns, func(i, j int) bool { return ns[i].wall < ns[j].wall })
		m := ns[len(ns)/2]
		nr := overheadRow{n: n, wall: m.wall, cpu: m.cpu, selfCPU: m.selfCPU}
		for _, c := range ns {
			nr.walls = append(nr.walls, c.wall)
			nr.maxRSS = max(nr.maxRSS, c.maxRSS)
		}
		row.naive = &nr
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].wall < cs[j].wall })
	med := cs[len(cs)/2]
	row.wall, row.cpu, row.selfCPU, row.sumRate = med.wall, med.cpu, med.selfCPU, med.sumRate
	for _, c := range cs {
		row.walls = append(row.walls, c.wall)
		row.maxRSS = max(row.maxRSS, c.maxRSS)
	}
	return row, nil
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	buf := make([]byte, 1<<20)
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// mockRow is one scenario against the mock API.
type mockRow struct {
	name, flags string
	minimum     time.Duration
	c           child
	stats       mock.Stats
	results     int
}

func mockScenarios(bin, tmp string, n int) ([]mockRow, error) {
	const rate, concurrency = 50, 10
	lat, err := mock.ParseLatency("50ms±20ms")
	if err != nil {
		return nil, err
	}
	in := filepath.Join(tmp, "anthropic.jsonl")
	f, err := os.Create(in)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriter(f)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(w, `{"custom_id":"r%d","params":{"model":"m","max_tokens":32,"messages":[{"role":"user","content":"hi"}]}}`+"\n", i)
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	f.Close()

	minimum := max(time.Duration(n)*time.Second/rate, time.Duration(n)*lat.Mean()/concurrency)
	scenarios := []struct{ name, flags string }{
		{"limits given", "--rate 50/s -c 10"},
		{"nothing given (learned), default -c 8", ""},
		{"nothing given (learned), -c 64 ceiling", "-c 64"},
	}
	var rows []mockRow
	for i, sc := range scenarios {
		api, err := mock.Start(mock.Config{
			Style:       mock.Anthropic,
			Requests:    mock.Limit{N: rate, Per: time.Second},
			Concurrency: concurrency,
			Latency:     lat,
			Seed:        int64(i + 1),
		})
		if err != nil {
			return nil, err
		}
		out := filepath.Join(tmp, fmt.Sprintf("mock-%d.jsonl", i))
		args := []string{"run", "--api", "anthropic", "--base-url", api.URL(), "--progress", "none", "-o", out}
		args = append(args, strings.Fields(sc.flags)...)
		args = append(args, in)
		logf("mock: %s: sluice %s", sc.name, strings.Join(args, " "))
		c, err := runChild(bin, []string{"ANTHROPIC_API_KEY=test"}, args...)
		api.Close()
		if err != nil {
			return nil, err
		}
		if c.exit != 0 {
			logf("mock: %s: exit %d:\n%s", sc.name, c.exit, c.stderr)
		}
		lines, _ := countLines(out)
		rows = append(rows, mockRow{name: sc.name, flags: sc.flags, minimum: minimum, c: c, stats: api.Stats(), results: lines})
		logf("mock: %s: %.2fs (%.3f x minimum), %d 429s at the mock", sc.name, c.wall.Seconds(), float64(c.wall)/float64(minimum), api.Stats().ThrottledTotal())
	}
	return rows, nil
}

func printHeader(benchDir, rootDir string, started time.Time) {
	gover, _ := exec.Command("go", "version").Output()
	nproc, err := exec.Command("nproc").Output()
	if err != nil {
		nproc = []byte(strconv.Itoa(runtime.NumCPU()))
	}
	commit, _ := exec.Command("git", "-C", rootDir, "rev-parse", "--short", "HEAD").Output()
	fmt.Println("## sluice run (bench/cmd/runbench)")
	fmt.Println()
	fmt.Printf("- Command: `cd bench && go run ./cmd/runbench %s`\n", strings.Join(os.Args[1:], " "))
	fmt.Printf("- Date: %s (UTC, when the run started)\n", started.Format("Mon Jan 2 15:04 2006"))
	fmt.Printf("- Machine: %s cores (`nproc`), CPU %s\n", strings.TrimSpace(string(nproc)), cpuModel())
	fmt.Printf("- Go: `%s`\n", strings.TrimSpace(string(gover)))
	if len(commit) > 0 {
		fmt.Printf("- Code: commit %s (plus whatever was uncommitted in the working tree)\n", strings.TrimSpace(string(commit)))
	}
	fmt.Println()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	var model, family, num string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case k == "model name" && model == "":
			model = v
		case k == "cpu family" && family == "":
			family = v
		case k == "model" && num == "":
			num = v
		}
	}
	s := fmt.Sprintf("%q", model)
	if family != "" {
		s += fmt.Sprintf(" (family %s, model %s)", family, num)
	}
	return s
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// printOverhead prints the overhead table and reports whether a target was
// missed.
func printOverhead(rows []overheadRow, floor int64, naive *overheadRow) (missed bool) {
	fmt.Printf("### Runner overhead: `sluice run -c %d --progress none`, %s input, instant loopback server\n\n", *concFlag, *formatFlag)
	if *envFlag != "" {
		fmt.Printf("The children ran with `%s` in their environment.\n\n", *envFlag)
	}
	fmt.Println("| items | wall time | items/s (wall) | items/s (sluice's summary) | peak RSS | sluice CPU (user+sys) | server CPU | connections opened |")
	fmt.Println("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rows {
		wall := fmt.Sprintf("%.2f s", r.wall.Seconds())
		if len(r.walls) > 1 {
			var ws []string
			for _, w := range r.walls {
				ws = append(ws, fmt.Sprintf("%.2f", w.Seconds()))
			}
			wall += " (" + strings.Join(ws, ", ") + ")"
		}
		fmt.Printf("| %d | %s | **%.0f** | %.0f | **%.1f MiB** | %.2f s | %.2f s | %d |\n",
			r.n, wall, r.perSec(), r.sumRate, mib(r.maxRSS), r.cpu.Seconds(), r.selfCPU.Seconds(), r.conns)
	}
	if naive != nil {
		r := naive
		fmt.Printf("| %d, plain batch client (not sluice), median run | %.2f s | %.0f | – | %.1f MiB | %.2f s | %.2f s | %s |\n",
			r.n, r.wall.Seconds(), r.perSec(), mib(r.maxRSS), r.cpu.Seconds(), r.selfCPU.Seconds(), "–")
	}
	fmt.Println()
	if naive != nil {
		top := rows[len(rows)-1]
		fmt.Printf("The plain client row is the ceiling of this machine for this server: %d workers reading the same JSONL, doing GET with one `http.Client` (idle pool %d) and writing one line per item, in a child process like sluice. sluice spends %.1f µs of CPU per item, the plain client %.1f µs, the server %.1f µs.\n\n",
			*concFlag, *concFlag, us(top.cpu, top.n), us(naive.cpu, naive.n), us(top.selfCPU, top.n))
		// The VM's speed moves every absolute figure by a third from run to
		// run; ratios to what ran beside sluice in the same run hold still.
		fmt.Printf("Ratios in this run, steadier than the absolute figures: at %d items sluice's rate is %.2f of the plain client's; sluice's CPU per item is %.2f times the plain client's and %.2f times the server's.\n\n",
			top.n, top.perSec()/naive.perSec(), us(top.cpu, top.n)/us(naive.cpu, naive.n), us(top.cpu, top.n)/us(top.selfCPU, top.n))
	}
	if len(rows) > 0 && len(rows[0].ratios) > 0 {
		fmt.Println("sluice ÷ the plain batch client (JSONL in, one line out per item, the same workers), run beside it and alternating:")
		fmt.Println()
		fmt.Println("| items | runs | items/s ratio, median (range) | CPU ratio, median (range) | peak RSS ratio, median (range) |")
		fmt.Println("| ---: | ---: | ---: | ---: | ---: |")
		for _, r := range rows {
			var rate, cpu, rss []float64
			for _, x := range r.ratios {
				rate, cpu, rss = append(rate, x.rate), append(cpu, x.cpu), append(rss, x.rss)
			}
			fmt.Printf("| %d | %d | **%s** | **%s** | %s |\n", r.n, len(r.ratios), spread(rate), spread(cpu), spread(rss))
			if len(r.before) > 0 {
				rate, cpu, rss = nil, nil, nil
				for _, x := range r.before {
					rate, cpu, rss = append(rate, x.rate), append(cpu, x.cpu), append(rss, x.rss)
				}
				fmt.Printf("| %d, -before | %d | %s | %s | %s |\n", r.n, len(r.before), spread(rate), spread(cpu), spread(rss))
			}
		}
		fmt.Println()
	}
	if floor > 0 {
		fmt.Printf("Process floor: `sluice version` peaks at %.1f MiB RSS.\n\n", mib(floor))
	}

	// Verdicts: throughput per size (the smallest is dominated by start-up).
	var per []string
	for _, r := range rows {
		ok := r.perSec() >= targetItemsPerSec
		missed = missed || !ok
		per = append(per, fmt.Sprintf("%d items: %.0f/s, %s", r.n, r.perSec(), verdict(ok)))
	}
	fmt.Printf("- Throughput against the target of %d items/s: %s.\n", targetItemsPerSec, strings.Join(per, "; "))
	if len(rows) > 1 {
		base, top := rows[0], rows[len(rows)-1]
		per := float64(top.maxRSS-base.maxRSS) / float64(top.n-base.n)
		ok := per <= targetBytesPerID
		missed = missed || !ok
		fmt.Printf("- Memory per item beyond the %d-item baseline: (RSS(%d) - RSS(%d)) / %d = %.1f bytes against the budget of %d: **%s**.\n",
			base.n, top.n, base.n, top.n-base.n, per, targetBytesPerID, verdict(ok))
		if top.n >= 1000000 {
			ok := top.maxRSS < targetRSS1M
			missed = missed || !ok
			fmt.Printf("- %d items peak at %.1f MiB RSS against the target of under 64 MiB for 1M: **%s**.\n", top.n, mib(top.maxRSS), verdict(ok))
		}
	}
	fmt.Println()
	return missed
}

// spread formats the median of xs and their range.
func spread(xs []float64) string {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", m, s[0], s[len(s)-1])
}

func us(d time.Duration, n int) float64 { return float64(d.Microseconds()) / float64(n) }

// naiveChild is the plain batch client: naive-child INPUT OUT C. It is
// what a Go programmer would write without sluice: C workers read the
// JSONL input's lines ({"id":…,"url":…}) from a channel, GET each URL with
// one http.Client (idle pool C), and write one line per item,
// {"id":…,"status":…,"body":…}, to a buffered output file under a mutex.
// urls input lines are taken as they are, with the line number as id.
func naiveChild(args []string) {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "naive-child INPUT OUT C")
		os.Exit(2)
	}
	c, _ := strconv.Atoi(args[2])
	in, err := os.Open(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer in.Close()
	outFile, err := os.Create(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := bufio.NewWriterSize(outFile, 64<<10)
	var outMu sync.Mutex

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = c
	client := &http.Client{Transport: tr}
	type item struct {
		ID  json.RawMessage `json:"id"`
		URL string          `json:"url"`
	}
	items := make(chan item, c)
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			var line []byte
			for it := range items {
				resp, err := client.Get(it.URL)
				if err != nil {
					failed.Add(1)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					continue
				}
				line = append(line[:0], `{"id":`...)
				line = append(line, it.ID...)
				line = append(line, `,"status":`...)
				line = strconv.AppendInt(line, int64(resp.StatusCode), 10)
				line = append(line, `,"body":`...)
				line = append(line, body...)
				line = append(line, "}\n"...)
				outMu.Lock()
				out.Write(line)
				outMu.Unlock()
			}
		})
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var it item
		if b := sc.Bytes(); len(b) > 0 && b[0] == '{' {
			if err := json.Unmarshal(b, &it); err != nil {
				fmt.Fprintf(os.Stderr, "line %d: %v\n", n, err)
				os.Exit(1)
			}
		} else {
			it = item{ID: json.RawMessage(strconv.Itoa(n)), URL: string(b)}
		}
		items <- it
	}
	close(items)
	wg.Wait()
	if err := out.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	outFile.Close()
	if failed.Load() > 0 {
		fmt.Fprintf(os.Stderr, "%d failed\n", failed.Load())
		os.Exit(1)
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

func printMocks(rows []mockRow, n int) {
	m := rows[0].minimum
	fmt.Printf("### Against the mock API: %d requests, anthropic style, 50 requests/s, 10 in flight, 50ms±20ms\n\n", n)
	fmt.Printf("Physical minimum: max(%d / 50/s, %d × 50 ms / 10) = %.1f s. The mock's request bucket holds 50 and starts full, so a client that spends the burst could finish in %.1f s.\n\n",
		n, n, m.Seconds(), float64(n-50)/50)
	fmt.Println("| scenario | flags (plus `--api anthropic --base-url MOCK --progress none`) | time | time ÷ minimum | target | succeeded | 429s at the mock | sluice's throttled | peak RSS |")
	fmt.Println("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
	for _, r := range rows {
		target := "≤ 1.10, < 1% throttled"
		if strings.Contains(r.flags, "--rate") {
			target = "≤ 1.02, zero 429s"
		}
		flags := "`" + r.flags + "`"
		if r.flags == "" {
			flags = "(none)"
		}
		fmt.Printf("| %s | %s | %.2f s | **%.3f** | %s | %d | **%d** | %d | %.1f MiB |\n",
			r.name, flags, r.c.wall.Seconds(), float64(r.c.wall)/float64(r.minimum), target, r.results, r.stats.ThrottledTotal(), r.c.sumThrot, mib(r.c.maxRSS))
	}
	fmt.Println()
	for _, r := range rows {
		fmt.Printf("- %s: mock saw %d requests, %d accepted, 429s by reason %v, peak %d in flight, peak %d connections; sluice: `%s`\n",
			r.name, r.stats.Requests, r.stats.Accepted, r.stats.Throttled, r.stats.PeakConcurrency, r.stats.PeakConnections, r.c.summary)
	}
	fmt.Println()
}

// profileInProcess builds ./inproc (a nested module that may import
// internal/batch, which needs requirements this module lacks) and runs
// batch.Run under the CPU profiler against the instant server.
func profileInProcess(benchDir, tmp string, srv *instant) error {
	dir := filepath.Join(benchDir, "cmd", "runbench", "inproc")
	bin := filepath.Join(tmp, "inproc")
	logf("building %s", bin)
	if out, err := goCmd(dir, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("go build (in %s): %v\n%s", dir, err, out)
	}
	in := filepath.Join(tmp, fmt.Sprintf("profile-in-%d.jsonl", *profileN))
	if err := writeInstantInput(in, *profileN, srv.url, *formatFlag); err != nil {
		return err
	}
	cpuProf := filepath.Join(tmp, "cpu.prof")
	memProf := filepath.Join(tmp, "heap.prof")
	out := filepath.Join(tmp, "profile-out.jsonl")
	cmd := exec.Command(bin, "-input", in, "-out", out, "-c", strconv.Itoa(*concFlag), "-cpuprofile", cpuProf, "-memprofile", memProf)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	fmt.Printf("### In-process profile: batch.Run on %d items, -c %d\n\n", *profileN, *concFlag)
	fmt.Println("```")
	if err := cmd.Run(); err != nil {
		fmt.Println("```")
		return err
	}
	for _, args := range [][]string{
		{"tool", "pprof", "-top", "-nodecount=30", bin, cpuProf},
		{"tool", "pprof", "-top", "-cum", "-nodecount=45", bin, cpuProf},
		{"tool", "pprof", "-top", "-sample_index=alloc_space", "-nodecount=20", bin, memProf},
		{"tool", "pprof", "-top", "-sample_index=inuse_space", "-nodecount=15", bin, memProf},
	} {
		fmt.Printf("\n$ go %s\n", strings.Join(args, " "))
		o, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			fmt.Printf("%v\n", err)
		}
		os.Stdout.Write(genericShape.ReplaceAll(o, []byte("[...]")))
	}
	fmt.Println("```")
	if *keepFlag {
		fmt.Printf("\nProfiles: %s, %s (binary %s)\n", cpuProf, memProf, bin)
	}
	return nil
}
