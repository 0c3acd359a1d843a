// Command redisbench measures limits shared through Redis (package redis):
//
//   - admissions per second through Redis from one process and from four,
//     against the anchor of a plain PING round trip in the same run;
//
//   - Redis commands per admission, from INFO commandstats;
//
//   - three `sluice run` processes sharing 100 req/s against a strict
//     loopback server: aggregate rate and violations;
//
//   - what an outage costs: time to fall back, 429s during it.
//
//     cd bench && go run ./cmd/redisbench [-redis 127.0.0.1:6379]
//
// It uses a unique key prefix and never flushes the server; the outage
// is staged on a redis-server of its own on a free port.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/redis"
)

func main() {
	addr := flag.String("redis", "127.0.0.1:6379", "the Redis to measure against")
	child := flag.String("child", "", "internal: run as a load process with this key prefix")
	dur := flag.Duration("d", 3*time.Second, "how long each throughput measurement runs")
	flag.Parse()
	if *child != "" {
		n := throughput(*addr, *child, *dur)
		fmt.Println(n)
		return
	}
	prefix := fmt.Sprintf("redisbench-%d-%d", os.Getpid(), time.Now().UnixNano())
	c := goredis.NewClient(&goredis.Options{Addr: *addr})
	defer c.Close()

	// Anchor: sequential PINGs from one goroutine, as one process's front
	// waiter asks one admission at a time.
	ping := rate(*dur, func() { c.Ping(context.Background()) })
	fmt.Printf("anchor: PING round trips, one client at a time: %.0f/s\n", ping)

	before := commandstats(c)
	one := float64(throughput(*addr, prefix+"-1", *dur)) / dur.Seconds()
	after := commandstats(c)
	fmt.Printf("one process, 8 workers, rate only: %.0f admissions/s (%.2fx the PING anchor)\n", one, one/ping)
	admissions := one * dur.Seconds()
	var trips, inside int64
	var names []string
	for name, n := range after {
		d := n - before[name]
		if d <= 0 || name == "info" {
			continue
		}
		names = append(names, fmt.Sprintf("%s=%d", name, d))
		switch name {
		case "evalsha", "eval", "evalsha_ro", "eval_ro":
			trips += d
		default:
			inside += d // run inside the scripts (Redis counts those too)
		}
	}
	slices.Sort(names)
	fmt.Printf("round trips per admission: %.3f (EVALSHA/EVAL: one admit, one release of the shared concurrency lease); "+
		"commands inside the scripts per admission: %.1f (%s)\n",
		float64(trips)/admissions, float64(inside)/admissions, strings.Join(names, " "))

	four := parallel(*addr, prefix+"-4", 4, *dur)
	fmt.Printf("four processes, 8 workers each: %.0f admissions/s together (%.2fx one process)\n", four, four/one)

	before = commandstats(c)
	calls := windowThroughput(*addr, prefix+"-w", *dur)
	after = commandstats(c)
	trips = 0
	for _, name := range []string{"evalsha", "eval"} {
		trips += after[name] - before[name]
	}
	fmt.Printf("one process, 8 workers, a shared window through a Transport (instant loopback server): %.0f calls/s; "+
		"round trips per call: %.3f (one admit, and the dating of the sent calls, batched, off the callers' path)\n",
		float64(calls)/dur.Seconds(), float64(trips)/float64(calls))

	if os.Getenv("REDISBENCH_ONLY") != "outage" {
		runShare()
	}
	if os.Getenv("REDISBENCH_ONLY") != "run" {
		outage()
	}
}

// rate returns how many times per second f runs, for d.
func rate(d time.Duration, f func()) float64 {
	n := 0
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		f()
		n++
	}
	return float64(n) / d.Seconds()
}

// throughput admits as many calls as it can for d through a gate whose
// only limit, a very fast rate, is shared through Redis; it returns how
// many.
func throughput(addr, prefix string, d time.Duration) int64 {
	client, _ := redis.Dial("redis://" + addr)
	defer client.Close()
	st := redis.New(client, "bench", redis.Options{Prefix: prefix, CallTimeout: 2 * time.Second})
	defer st.Close()
	g := sluice.Limits{Rate: sluice.PerSecond(1e6), Burst: 1000, Concurrency: 64, FixedConcurrency: true, Store: st}.NewGate()
	var n atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for range 8 {
		wg.Go(func() {
			for time.Now().Before(end) {
				p, err := g.Acquire(context.Background(), sluice.Cost{})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return
				}
				p.Done(sluice.Outcome{})
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return n.Load()
}

// windowThroughput sends as many calls as it can for d through a
// Transport whose only shared limit is a very wide sliding window, to an
// instant loopback server; it returns how many. The window counts each
// call from when its request has left (sluice.SentTicket).
func windowThroughput(addr, prefix string, d time.Duration) int64 {
	client, _ := redis.Dial("redis://" + addr)
	defer client.Close()
	st := redis.New(client, "bench", redis.Options{Prefix: prefix, CallTimeout: 2 * time.Second})
	defer st.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	limits := sluice.Limits{Window: sluice.Rate{N: 1e6, Per: time.Second}, Store: st}
	tr := &sluice.Transport{Limits: limits, Retry: sluice.RetryPolicy{MaxAttempts: 1}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	var n atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for range 8 {
		wg.Go(func() {
			for time.Now().Before(end) {
				resp, err := hc.Get(srv.URL)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return
				}
				resp.Body.Close()
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return n.Load()
}

// parallel runs k load processes at once and returns their admissions
// per second together.
func parallel(addr, prefix string, k int, d time.Duration) float64 {
	var total atomic.Int64
	var wg sync.WaitGroup
	for range k {
		wg.Go(func() {
			out, err := exec.Command(os.Args[0], "-redis", addr, "-child", prefix, "-d", d.String()).Output()
			if err != nil {
				fmt.Fprintln(os.Stderr, "child:", err)
				return
			}
			n, _ := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
			total.Add(n)
		})
	}
	wg.Wait()
	return float64(total.Load()) / d.Seconds()
}

// commandstats returns the calls per command from INFO commandstats.
func commandstats(c *goredis.Client) map[string]int64 {
	info, _ := c.Info(context.Background(), "commandstats").Result()
	m := make(map[string]int64)
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.SplitN(rest, ",", 2)[0], 10, 64)
		m[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return m
}

// judge is a strict loopback API allowing limit calls in any window of
// per: it answers 429 to a call that would exceed it (a violation) and
// counts.
type judge struct {
	mu       sync.Mutex
	limit    int
	per      time.Duration
	accepted []time.Time
	refused  []time.Time
}

func (j *judge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	j.mu.Lock()
	lo := len(j.accepted)
	for lo > 0 && now.Sub(j.accepted[lo-1]) < j.per {
		lo--
	}
	over := len(j.accepted)-lo >= j.limit
	if over {
		j.refused = append(j.refused, now)
	} else {
		j.accepted = append(j.accepted, now)
	}
	j.mu.Unlock()
	if over {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	fmt.Fprintln(w, `{"ok":true}`)
}

func (j *judge) counts() (accepted, refused int, span time.Duration) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.accepted) > 1 {
		span = j.accepted[len(j.accepted)-1].Sub(j.accepted[0])
	}
	return len(j.accepted), len(j.refused), span
}

// runShare runs three `sluice run` processes sharing --rate 100/s through
// Redis against a strict judge of 100 per second; and, as the anchor, one
// process alone with the same calls and limits in memory.
func runShare() {
	dir, _ := os.MkdirTemp("", "redisbench")
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "sluice")
	if out, err := exec.Command("go", "build", "-C", "..", "-o", bin, "./cmd/sluice").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building sluice: %v\n%s", err, out)
		return
	}
	key := fmt.Sprintf("redisbench-run-%d-%d", os.Getpid(), time.Now().UnixNano())
	const each = 300
	for _, procs := range []int{1, 3} {
		j := &judge{limit: 100, per: time.Second}
		srv := httptest.NewServer(j)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range procs {
			in := filepath.Join(dir, fmt.Sprintf("urls%d-%d.txt", procs, i))
			var b strings.Builder
			for k := range each * 3 / procs {
				fmt.Fprintf(&b, "%s/p%d/%d\n", srv.URL, i, k)
			}
			os.WriteFile(in, []byte(b.String()), 0o644)
			args := []string{"run", "--rate", "100/s", "-c", "8", "--progress", "none", "--retries", "0", in}
			if procs > 1 {
				args = append(args, "--redis", "redis://127.0.0.1:6379", "--key", key)
			}
			wg.Go(func() {
				out, err := exec.Command(bin, args...).CombinedOutput()
				if err != nil {
					fmt.Fprintf(os.Stderr, "sluice run %d: %v\n", i, err)
				}
				for _, line := range strings.Split(string(out), "\n") {
					if strings.Contains(line, "redis") && strings.Contains(line, "WARN") {
						fmt.Printf("  process %d: %s\n", i, line)
					}
				}
			})
		}
		wg.Wait()
		srv.Close()
		elapsed := time.Since(start)
		acc, ref, span := j.counts()
		j.mu.Lock()
		var when []string
		for _, t := range j.refused {
			when = append(when, t.Sub(j.accepted[0]).Round(time.Millisecond).String())
		}
		j.mu.Unlock()
		what := "anchor: one sluice run process alone at 100/s, limits in memory"
		if procs > 1 {
			what = "three sluice run processes sharing 100/s through Redis"
		}
		fmt.Printf("%s: %d calls accepted, %d violations (429s from the strict judge%s); "+
			"%.1f/s from first to last call = %.3f of the limit; wall %v\n",
			what, acc, ref, strings.Join(append([]string{""}, when...), " at "), float64(acc-1)/span.Seconds(),
			float64(acc-1)/span.Seconds()/100, elapsed.Round(time.Millisecond))
	}
}

// outage runs three stores (as three processes) sharing 100/s against a
// strict judge, stops Redis for 2s mid-run and starts it again, in Local
// mode, and reports how long falling back took and the 429s meanwhile.
func outage() {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dir, _ := os.MkdirTemp("", "redisbench-outage")
	defer os.RemoveAll(dir)
	start := func() *exec.Cmd {
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir)
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "redis-server:", err)
			return nil
		}
		for range 100 {
			c := goredis.NewClient(&goredis.Options{Addr: addr})
			err := c.Ping(context.Background()).Err()
			c.Close()
			if err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		return cmd
	}
	server := start()
	if server == nil {
		return
	}
	j := &judge{limit: 100, per: time.Second}
	srv := httptest.NewServer(j)
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	var stores []*redis.Store
	var gates []*sluice.Gate
	for range 3 {
		client, _ := redis.Dial("redis://" + addr)
		defer client.Close()
		st := redis.New(client, "outage", redis.Options{Logger: quiet})
		defer st.Close()
		stores = append(stores, st)
		gates = append(gates, sluice.Limits{Rate: sluice.PerSecond(100), Concurrency: 8, Store: st}.NewGate())
	}
	// Each store asks once, so that every process knows there are three.
	for range 2 {
		for _, g := range gates {
			if p, err := g.Acquire(context.Background(), sluice.Cost{}); err == nil {
				p.Done(sluice.Outcome{})
			}
		}
	}
	time.Sleep(time.Second)   // the judge forgets the warm-up
	var killedAt atomic.Int64 // unix nanos
	var firstFallback atomic.Int64
	var during429 atomic.Int64
	end := time.Now().Add(6 * time.Second)
	var wg sync.WaitGroup
	for i, g := range gates {
		for range 4 {
			wg.Go(func() {
				for time.Now().Before(end) {
					p, err := g.Acquire(context.Background(), sluice.Cost{})
					if err != nil {
						continue
					}
					if k := killedAt.Load(); k != 0 && stores[i].Stats().Down {
						firstFallback.CompareAndSwap(0, time.Now().UnixNano())
					}
					resp, err := hc.Get(srv.URL)
					if err == nil {
						if resp.StatusCode == 429 && killedAt.Load() != 0 {
							during429.Add(1)
						}
						resp.Body.Close()
					}
					p.Done(sluice.Outcome{})
				}
			})
		}
	}
	time.Sleep(2 * time.Second)
	_, before429, _ := j.counts()
	server.Process.Kill()
	server.Wait()
	killedAt.Store(time.Now().UnixNano())
	time.Sleep(2 * time.Second)
	server = start()
	wg.Wait()
	if server != nil {
		server.Process.Kill()
		server.Wait()
	}
	acc, ref, span := j.counts()
	fb := time.Duration(firstFallback.Load() - killedAt.Load())
	var s redis.Stats
	for _, st := range stores {
		x := st.Stats()
		s.Fallbacks += x.Fallbacks
		s.Outages += x.Outages
		s.Admissions += x.Admissions
	}
	fmt.Printf("outage (Redis killed for 2s of 6s, three stores sharing 100/s, mode local, call timeout 200ms): first admission without Redis %v after the kill; "+
		"%d 429s before, %d during and after; %d calls accepted at %.1f/s; stats: %d through Redis, %d local, %d outages\n",
		fb.Round(time.Millisecond), before429, ref-before429, acc, float64(acc-1)/span.Seconds(), s.Admissions, s.Fallbacks, s.Outages)
}
