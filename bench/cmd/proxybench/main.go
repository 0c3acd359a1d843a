// Command proxybench measures `sluice proxy` as a user runs it, against
// Debian's nginx with proxy_pass on the same machine in the same run,
// checking the proxy's performance target of DESIGN.md ("Performance
// targets": p99 added latency under 1 ms at 1,000 req/s):
//
//   - Overhead: an instant upstream (an HTTP server in this process that
//     answers 200 {"ok":true} at once) is reached straight, through nginx
//     (a child: its own config, pid and logs in a temporary directory, no
//     daemon) and through `sluice proxy` (built from the repository, a
//     child, with limits set high: -c 1000 --adaptive=false --rate 1000000/s). One load
//     generator, in this process, drives all three: open loop at a fixed
//     rate (1,000 req/s) measuring each request's latency from the moment
//     it was due, so that a stall is not hidden by requests not sent
//     during it; then closed loop with N connections for the maximum
//     throughput. Added latency is a target's percentile minus the direct
//     one's; each figure of the proxy is also given as a ratio to nginx's,
//     and to a plain net/http/httputil.ReverseProxy's (this program run
//     again as one): the floor a Go proxy stands on, so that what sluice
//     adds is seen apart from what Go's HTTP costs.
//
//   - Against a real limit: 200 concurrent clients, one Anthropic request
//     each, to the mock API (internal/mock, as `sluice mock --style
//     anthropic --rate 20/s --concurrency 5 --latency 200ms±100ms`), once
//     straight and once through `sluice proxy --rate 20/s -c 5`. The
//     clients behave as the SDKs do: a 429 is retried after its
//     Retry-After. Reported: wall time over the physical minimum and the
//     429s the mock sent.
//
// It prints markdown tables with the machine, Go version, date and
// command. Each run is short: about 45 s with the defaults.
//
//	cd bench && go run ./cmd/proxybench [-rate 1000] [-d 3s] [-conns 64] [-clients 200]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/internal/mock"
)

// targetAddedP99 is DESIGN.md's proxy target.
const targetAddedP99 = time.Millisecond

var (
	rateFlag    = flag.Int("rate", 1000, "open-loop request rate, per second")
	durFlag     = flag.Duration("d", 3*time.Second, "open-loop duration per target (after a warm-up of a fifth of it)")
	connsFlag   = flag.Int("conns", 64, "closed-loop connections for the maximum throughput")
	maxDurFlag  = flag.Duration("max-d", 2*time.Second, "closed-loop duration per target")
	clientsFlag = flag.Int("clients", 200, "concurrent clients against the mock")
	mockFlag    = flag.Bool("mock", true, "run the mock scenario")
	nginxFlag   = flag.String("nginx", "nginx", "the nginx binary; \"\" skips it")
	capFlag     = flag.Float64("mock-cap", 2, "stop the mock clients at this many times the physical minimum")
	keepFlag    = flag.Bool("keep", false, "keep the temporary directory (configs and the children's logs)")
)

func main() {
	if spec := os.Getenv(plainEnv); spec != "" {
		servePlain(spec) // this program re-run as the plain Go reverse proxy
		return
	}
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "proxybench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "proxybench: "+format+"\n", args...)
}

func run() error {
	rootDir, err := findRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "proxybench-")
	if err != nil {
		return err
	}
	if *keepFlag {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	started := time.Now().UTC()
	bin := filepath.Join(tmp, "sluice")
	logf("building %s", bin)
	build := exec.Command("go", "build", "-o", bin, "./cmd/sluice")
	build.Dir = rootDir
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/sluice: %v\n%s", err, out)
	}

	up, err := startInstant()
	if err != nil {
		return err
	}
	defer up.Close()

	var children []*child
	defer func() {
		for _, c := range children {
			c.stop()
		}
	}()
	targets := []target{{name: "direct", url: up.url}}

	var nginxVersion string
	if *nginxFlag != "" {
		if path, err := exec.LookPath(*nginxFlag); err != nil {
			logf("no nginx (%v): apt-get install -y nginx; its rows are left out", err)
		} else {
			c, url, version, err := startNginx(path, tmp, up.url)
			if err != nil {
				return err
			}
			children = append(children, c)
			nginxVersion = version
			targets = append(targets, target{name: "nginx proxy_pass", url: url})
		}
	}
	if c, url, err := startPlain(tmp, up.url); err != nil {
		return err
	} else {
		children = append(children, c)
		targets = append(targets, target{name: "Go httputil.ReverseProxy", url: url})
	}
	proxyArgs := []string{"--upstream", up.url, "--preset", "generic", "-c", "1000", "--adaptive=false", "--rate", "1000000/s"}
	c, url, err := startProxy(bin, tmp, "proxy", proxyArgs)
	if err != nil {
		return err
	}
	children = append(children, c)
	targets = append(targets, target{name: "sluice proxy", url: url})

	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute, DisableCompression: true,
	}}
	// The targets are measured together, their requests interleaved, so
	// that whatever else the machine does falls on all of them alike.
	logf("open loop, %d req/s to each of %d targets for %v", *rateFlag, len(targets), *durFlag)
	openLoop(client, targets, *rateFlag, *durFlag/5) // warm-up: connections, caches
	for i, r := range openLoop(client, targets, *rateFlag, *durFlag) {
		targets[i].open = r
	}
	logf("closed loop, %d connections, %v per target in turns", *connsFlag, *maxDurFlag)
	for i, r := range closedLoop(client, targets, *connsFlag, *maxDurFlag) {
		targets[i].closed = r
	}
	client.CloseIdleConnections()

	var rows []mockRow
	if *mockFlag {
		if rows, err = runMock(bin, tmp, &children); err != nil {
			return err
		}
	}

	printHeader(rootDir, started, nginxVersion)
	printOverhead(targets)
	if *mockFlag {
		printMock(rows)
	}
	return nil
}

// findRoot returns the repository's root module directory, from the bench
// module (the working directory or one above it).
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/sluicehq/sluice/bench\n")) {
			return filepath.Dir(d), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("run from the bench module (cd bench && go run ./cmd/proxybench); %s is not in it", dir)
		}
	}
}

var okBody = []byte(`{"ok":true}`)

// instant is a loopback HTTP server that answers every request at once.
type instant struct {
	*http.Server
	url string
}

func startInstant() (*instant, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &instant{url: "http://" + ln.Addr().String()}
	s.Server = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			h := w.Header()
			h["Content-Type"] = []string{"application/json"}
			h["Content-Length"] = []string{"11"}
			w.Write(okBody)
		}),
		IdleTimeout: 10 * time.Minute,
	}
	go s.Serve(ln)
	return s, nil
}

// freeAddr returns a loopback address no one listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// child is a process this program started; it dies with this program.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string
}

func startChild(name, logPath string, env []string, bin string, args ...string) (*child, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	f.Close()
	return &child{name: name, cmd: cmd, log: logPath}, nil
}

// stop asks the child to end, and kills it after a moment.
func (c *child) stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

// waitReady polls url until it answers 200.
func (c *child) waitReady(url string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(c.log)
	return fmt.Errorf("%s did not answer at %s within 10s:\n%s", c.name, url, b)
}

// startProxy runs `sluice proxy` with args on a free loopback port.
func startProxy(bin, tmp, name string, args []string) (*child, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	c, err := startChild("sluice proxy", filepath.Join(tmp, name+".log"), nil, bin, append([]string{"proxy", "--listen", addr}, args...)...)
	if err != nil {
		return nil, "", err
	}
	url := "http://" + addr
	if err := c.waitReady(url + "/healthz"); err != nil {
		c.stop()
		return nil, "", err
	}
	return c, url, nil
}

// plainEnv makes this program a plain Go reverse proxy: "ADDR UPSTREAM".
const plainEnv = "PROXYBENCH_PLAIN_REVERSE_PROXY"

// startPlain runs this program again as net/http/httputil's
// ReverseProxy with nothing else: the floor a Go proxy stands on, so that
// what sluice adds to it is seen apart from what Go's HTTP costs.
func startPlain(tmp, upstream string) (*child, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	c, err := startChild("plain reverse proxy", filepath.Join(tmp, "plain.log"), []string{plainEnv + "=" + addr + " " + upstream}, self)
	if err != nil {
		return nil, "", err
	}
	url := "http://" + addr
	if err := c.waitReady(url + "/"); err != nil {
		c.stop()
		return nil, "", err
	}
	return c, url, nil
}

// servePlain serves a plain ReverseProxy as spec ("ADDR UPSTREAM") says,
// with the upstream connections kept as sluice keeps them.
func servePlain(spec string) {
	addr, upstream, _ := strings.Cut(spec, " ")
	u, err := url.Parse(upstream)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	rp.Transport = tr
	fmt.Fprintln(os.Stderr, http.ListenAndServe(addr, rp))
	os.Exit(1)
}

// startNginx runs nginx in the foreground with proxy_pass to upstream,
// keeping connections to it alive as the proxy does.
func startNginx(bin, tmp, upstream string) (*child, string, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", "", err
	}
	dir := filepath.Join(tmp, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", "", err
	}
	os.Chmod(tmp, 0o755) // the workers run as another user when started as root
	conf := fmt.Sprintf(`worker_processes auto;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    upstream instant {
        server %[2]s;
        keepalive 256;
    }
    server {
        listen %[3]s;
        keepalive_requests 1000000;
        location / {
            proxy_pass http://instant;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
`, dir, strings.TrimPrefix(upstream, "http://"), addr)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, "", "", err
	}
	out, _ := exec.Command(bin, "-v").CombinedOutput()
	version := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version:"))
	c, err := startChild("nginx", filepath.Join(dir, "stderr.log"), nil, bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	if err != nil {
		return nil, "", "", err
	}
	url := "http://" + addr
	if err := c.waitReady(url + "/"); err != nil {
		c.stop()
		return nil, "", "", err
	}
	return c, url, version, nil
}

// target is one way to the upstream, and what was measured through it.
type target struct {
	name, url string
	open      openResult
	closed    closedResult
}

type openResult struct {
	n, errs       int
	p50, p99, max time.Duration
	late          time.Duration // the generator's own worst lateness in sending
}

// openLoop sends rate requests a second to each target for d, the
// targets' requests interleaved, each when it is due whatever the others
// are doing, and measures each from when it was due to the end of its
// body.
func openLoop(client *http.Client, ts []target, rate int, d time.Duration) []openResult {
	k := len(ts)
	n := int(d.Seconds()*float64(rate)) * k
	interval := time.Second / time.Duration(rate*k)
	lat := make([]time.Duration, n)
	failed := make([]bool, n)
	var late time.Duration
	var wg sync.WaitGroup
	start := time.Now().Add(10 * time.Millisecond)
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		} else {
			late = max(late, -w)
		}
		wg.Go(func() {
			failed[i] = get(client, ts[i%k].url) != nil
			lat[i] = time.Since(due)
		})
	}
	wg.Wait()
	out := make([]openResult, k)
	for j := range out {
		r := openResult{late: late}
		var ok []time.Duration
		for i := j; i < n; i += k {
			r.n++
			if failed[i] {
				r.errs++
			} else {
				ok = append(ok, lat[i])
			}
		}
		slices.Sort(ok)
		if len(ok) > 0 {
			r.p50, r.p99, r.max = pct(ok, 0.50), pct(ok, 0.99), ok[len(ok)-1]
		}
		out[j] = r
	}
	return out
}

// pct returns the q-quantile of sorted (nearest rank).
func pct(sorted []time.Duration, q float64) time.Duration {
	i := int(float64(len(sorted))*q+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func get(client *http.Client, url string) error {
	resp, err := client.Get(url + "/v1/bench")
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}

type closedResult struct {
	n, errs int
	perSec  float64
}

// closedLoop keeps conns requests in flight for d per target: the most
// the target serves. The targets take turns, a quarter of d each time.
func closedLoop(client *http.Client, ts []target, conns int, d time.Duration) []closedResult {
	const turns = 4
	out := make([]closedResult, len(ts))
	took := make([]time.Duration, len(ts))
	for range turns {
		for j, t := range ts {
			var n, errs atomic.Int64
			var wg sync.WaitGroup
			begin := time.Now()
			end := begin.Add(d / turns)
			for range conns {
				wg.Go(func() {
					for time.Now().Before(end) {
						if get(client, t.url) != nil {
							errs.Add(1)
						} else {
							n.Add(1)
						}
					}
				})
			}
			wg.Wait()
			took[j] += time.Since(begin)
			out[j].n += int(n.Load())
			out[j].errs += int(errs.Load())
		}
	}
	for j := range out {
		out[j].perSec = float64(out[j].n) / took[j].Seconds()
	}
	return out
}

// The mock scenario.

const (
	mockRate    = 20 // requests a second
	mockConc    = 5
	mockLatency = "200ms±100ms"
)

type mockRow struct {
	name      string
	wall, min time.Duration
	ok        int
	clientSaw int64 // 429s the clients got
	stats     mock.Stats
}

func runMock(bin, tmp string, children *[]*child) ([]mockRow, error) {
	lat, err := mock.ParseLatency(mockLatency)
	if err != nil {
		return nil, err
	}
	n := *clientsFlag
	minimum := max(time.Duration(n)*time.Second/mockRate, time.Duration(n)*lat.Mean()/mockConc)
	var rows []mockRow
	for _, via := range []string{"straight to the mock", "through sluice proxy"} {
		api, err := mock.Start(mock.Config{Style: mock.Anthropic, Requests: mock.Limit{N: mockRate, Per: time.Second},
			Concurrency: mockConc, Latency: lat, Seed: 1})
		if err != nil {
			return nil, err
		}
		url := api.URL()
		if via != "straight to the mock" {
			c, purl, err := startProxy(bin, tmp, "proxy-mock", []string{"--upstream", api.URL(), "--preset", "anthropic",
				"--rate", fmt.Sprintf("%d/s", mockRate), "-c", strconv.Itoa(mockConc)})
			if err != nil {
				api.Close()
				return nil, err
			}
			*children = append(*children, c)
			url = purl
		}
		logf("mock: %d clients %s", n, via)
		row := mockRow{name: via, min: minimum}
		row.wall, row.ok, row.clientSaw = crowd(url, n, time.Duration(*capFlag*float64(minimum)))
		row.stats = api.Stats()
		api.Close()
		logf("mock: %s: %.2fs (%.3f x minimum), %d 429s at the mock", via, row.wall.Seconds(), float64(row.wall)/float64(minimum), row.stats.ThrottledTotal())
		rows = append(rows, row)
	}
	return rows, nil
}

const mockBody = `{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hello"}]}`

// crowd sends one Anthropic request from each of n concurrent clients,
// each retrying a 429 after its Retry-After as the SDKs do, and returns
// the time until all are done, how many succeeded and the 429s they saw.
// The clients give up at limit.
func crowd(url string, n int, limit time.Duration) (time.Duration, int, int64) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	var ok, throttled atomic.Int64
	var wg sync.WaitGroup
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/messages", strings.NewReader(mockBody))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Api-Key", "bench")
				req.Header.Set("Anthropic-Version", "2023-06-01")
				resp, err := client.Do(req)
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						logf("mock client: %v", err)
					}
					time.Sleep(time.Second)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					ok.Add(1)
					return
				case 429:
					throttled.Add(1)
					secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
					if err != nil || secs < 1 {
						secs = 1
					}
					select {
					case <-time.After(time.Duration(secs) * time.Second):
					case <-ctx.Done():
					}
				default:
					logf("mock client: status %d", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(begin), int(ok.Load()), throttled.Load()
}

// Output.

func printHeader(rootDir string, started time.Time, nginxVersion string) {
	gover, _ := exec.Command("go", "version").Output()
	nproc, err := exec.Command("nproc").Output()
	if err != nil {
		nproc = []byte(strconv.Itoa(runtime.NumCPU()))
	}
	commit, _ := exec.Command("git", "-C", rootDir, "rev-parse", "--short", "HEAD").Output()
	fmt.Println("## sluice proxy (bench/cmd/proxybench)")
	fmt.Println()
	fmt.Printf("- Command: `cd bench && go run ./cmd/proxybench %s`\n", strings.Join(os.Args[1:], " "))
	fmt.Printf("- Date: %s (UTC, when the run started)\n", started.Format("Mon Jan 2 15:04 2006"))
	fmt.Printf("- Machine: %s cores (`nproc`), CPU %s\n", strings.TrimSpace(string(nproc)), cpuModel())
	fmt.Printf("- Go: `%s`\n", strings.TrimSpace(string(gover)))
	if nginxVersion != "" {
		fmt.Printf("- nginx: %s (Debian's), `worker_processes auto`, upstream keepalive 256\n", nginxVersion)
	}
	if len(commit) > 0 {
		fmt.Printf("- Code: commit %s (plus whatever was uncommitted in the working tree)\n", strings.TrimSpace(string(commit)))
	}
	fmt.Println()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }

func printOverhead(ts []target) {
	fmt.Printf("### Overhead against an instant upstream\n\n")
	fmt.Printf("Open loop at %d req/s for %v per target (after a %v warm-up), latency from when each request was due; "+
		"closed loop with %d connections for %v. Added = target − direct. `sluice proxy` runs with `--preset generic -c 1000 --adaptive=false --rate 1000000/s`.\n\n",
		*rateFlag, *durFlag, *durFlag/5, *connsFlag, *maxDurFlag)
	fmt.Println("| target | p50 | p99 | max | added p50 | added p99 | errors | max throughput | errors |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	direct := ts[0].open
	var nginx, plain, proxy *target
	for i := range ts {
		t := &ts[i]
		added50, added99 := "—", "—"
		if i > 0 {
			added50, added99 = ms(t.open.p50-direct.p50), ms(t.open.p99-direct.p99)
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %d/%d | %.0f req/s | %d |\n", t.name, ms(t.open.p50), ms(t.open.p99), ms(t.open.max),
			added50, added99, t.open.errs, t.open.n, t.closed.perSec, t.closed.errs)
		switch t.name {
		case "nginx proxy_pass":
			nginx = t
		case "Go httputil.ReverseProxy":
			plain = t
		case "sluice proxy":
			proxy = t
		}
	}
	for _, anchor := range []*target{nginx, plain} {
		if anchor == nil || proxy == nil {
			continue
		}
		ratio := func(p, n time.Duration) string {
			if n <= 0 {
				return "n/a (anchor added ≤ 0)"
			}
			return fmt.Sprintf("%.2fx", float64(p)/float64(n))
		}
		fmt.Printf("| **sluice ÷ %s** | | | | %s | %s | | %.2fx | |\n", anchor.name,
			ratio(proxy.open.p50-direct.p50, anchor.open.p50-direct.p50),
			ratio(proxy.open.p99-direct.p99, anchor.open.p99-direct.p99),
			proxy.closed.perSec/anchor.closed.perSec)
	}
	if proxy != nil {
		added := proxy.open.p99 - direct.p99
		var late time.Duration
		for _, t := range ts {
			late = max(late, t.open.late)
		}
		verdict := "met"
		switch {
		case late >= targetAddedP99 || direct.p99 >= 10*targetAddedP99 || added < 0:
			// The machine's own stalls, seen by the generator or on the
			// direct path, are larger than what is measured.
			verdict = "not measurable in this run (the machine's noise is larger than the target)"
		case added >= targetAddedP99:
			verdict = "MISSED"
		}
		fmt.Printf("\nTarget: p99 added latency under %v at %d req/s: %s (%s; direct p99 %s).", targetAddedP99, *rateFlag, verdict, ms(added), ms(direct.p99))
		fmt.Printf(" The generator's worst lateness in sending was %s.\n\n", ms(late))
	}
}

func printMock(rows []mockRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Printf("### %d concurrent clients against the mock API\n\n", *clientsFlag)
	fmt.Printf("The mock as `sluice mock --style anthropic --rate %d/s --concurrency %d --latency %s`; one request per client, "+
		"a 429 retried after its Retry-After (as the SDKs do), the clients giving up at %gx the minimum. The proxy: `sluice proxy --preset anthropic --rate %d/s -c %d`. "+
		"Physical minimum: max(%d / %d/s, %d × %v / %d) = %.1f s.\n\n",
		mockRate, mockConc, mockLatency, *capFlag, mockRate, mockConc, *clientsFlag, mockRate, *clientsFlag, mockMean(), mockConc, rows[0].min.Seconds())
	fmt.Println("| clients | time | time ÷ minimum | succeeded | 429s at the mock | 429s the clients saw |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %.2f s | %.3f | %d/%d | %d | %d |\n", r.name, r.wall.Seconds(), float64(r.wall)/float64(r.min),
			r.ok, *clientsFlag, r.stats.ThrottledTotal(), r.clientSaw)
	}
	fmt.Println()
}

func mockMean() time.Duration {
	l, _ := mock.ParseLatency(mockLatency)
	return l.Mean()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return fmt.Sprintf("%q", strings.TrimSpace(v))
		}
	}
	return runtime.GOARCH
}
