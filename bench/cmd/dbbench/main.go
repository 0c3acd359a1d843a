// Command dbbench measures `sluice run` into a database (issue 14): items/s
// into SQLite and into PostgreSQL against an instant loopback API, beside
// the JSONL journal in the same run as the anchor, and the child's peak
// RSS. It builds the sluice binary and runs it as a child process, as a
// user runs it (`sluice run -c 64 --progress none -o DEST in.jsonl`), on an
// http-format input of N GETs to a loopback server in this process that
// answers 200 {"ok":true} at once. Each run's table (or file) is checked
// to hold exactly N results.
//
// Targets (the issue's): at least 10,000 items/s into SQLite and 5,000
// items/s into PostgreSQL on a 2-core machine.
//
// PostgreSQL is the server at -postgres (default SLUICE_TEST_POSTGRES, else
// postgres://postgres@127.0.0.1:5432/test); the runs write into a schema
// of their own, dropped at the end. dbbench is a module of its own (it
// needs the database drivers, which the bench module does not):
//
//	cd bench/cmd/dbbench && go run . [-sizes 100000,1000000] [-c 64]
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"
)

const (
	targetSQLite   = 10000
	targetPostgres = 5000
)

var (
	sizesFlag = flag.String("sizes", "100000,1000000", "input sizes, comma separated")
	concFlag  = flag.Int("c", 64, "sluice run -c")
	runsFlag  = flag.Int("runs", 1, "runs per size and destination; the table shows the median wall time and the largest RSS")
	pgFlag    = flag.String("postgres", "", "PostgreSQL URL (default SLUICE_TEST_POSTGRES, else postgres://postgres@127.0.0.1:5432/test?sslmode=disable); \"none\" skips it")
	keepFlag  = flag.Bool("keep", false, "keep the temporary directory and the PostgreSQL schema")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dbbench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "dbbench: "+format+"\n", args...) }

func run() error {
	rootDir, err := findRoot()
	if err != nil {
		return err
	}
	var sizes []int
	for _, f := range strings.Split(*sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("-sizes: %q is not a positive number", f)
		}
		sizes = append(sizes, n)
	}
	tmp, err := os.MkdirTemp("", "dbbench-")
	if err != nil {
		return err
	}
	if *keepFlag {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	started := time.Now().UTC()
	loadBefore = loadAvg()
	bin := filepath.Join(tmp, "sluice")
	logf("building %s", bin)
	build := exec.Command("go", "build", "-o", bin, "./cmd/sluice")
	build.Dir = rootDir
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/sluice: %v\n%s", err, out)
	}
	srv, err := startInstant()
	if err != nil {
		return err
	}
	defer srv.close()

	dests := []dest{{name: "JSONL file (anchor)", kind: "jsonl"}, {name: "SQLite", kind: "sqlite"}}
	pgURL := *pgFlag
	if pgURL == "" {
		pgURL = os.Getenv("SLUICE_TEST_POSTGRES")
	}
	if pgURL == "" {
		pgURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	if pgURL != "none" {
		schemaURL, drop, err := benchSchema(pgURL)
		if err != nil {
			logf("no PostgreSQL (%v): measuring without it", err)
		} else {
			if !*keepFlag {
				defer drop()
			}
			dests = append(dests, dest{name: "PostgreSQL", kind: "postgres", url: schemaURL})
		}
	}

	var rows []row
	for _, n := range sizes {
		in := filepath.Join(tmp, fmt.Sprintf("in-%d.jsonl", n))
		if err := writeInput(in, n, srv.url); err != nil {
			return err
		}
		for _, d := range dests {
			r, err := measure(bin, tmp, in, n, d, srv)
			if err != nil {
				return err
			}
			logf("%d items into %s: %.0f items/s, peak RSS %.1f MiB", n, d.name, r.perSec(), mib(r.maxRSS))
			rows = append(rows, r)
		}
	}
	printReport(rootDir, started, rows)
	return nil
}

// dest is where a run writes.
type dest struct {
	name, kind string
	url        string // PostgreSQL, with search_path set
}

// out is the -o of run i on n items, and a function counting the results
// it left (rows: id is the tables' primary key, so each is a distinct id).
func (d dest) out(tmp string, n, i int) (string, func() (int, error)) {
	table := fmt.Sprintf("bench_%d_%d", n, i)
	switch d.kind {
	case "sqlite":
		path := filepath.Join(tmp, table+".db")
		return "sqlite:" + path, func() (int, error) { return countSQLite(path, "sluice_results") }
	case "postgres":
		return d.url, func() (int, error) { return countPostgres(d.url, table) }
	}
	path := filepath.Join(tmp, table+".jsonl")
	return path, func() (int, error) { return countLines(path) }
}

type row struct {
	n       int
	dest    dest
	wall    time.Duration // median
	maxRSS  int64
	cpu     time.Duration
	selfCPU time.Duration
}

func (r row) perSec() float64 { return float64(r.n) / r.wall.Seconds() }

func measure(bin, tmp, in string, n int, d dest, srv *instant) (row, error) {
	r := row{n: n, dest: d}
	var walls []time.Duration
	for i := 0; i < *runsFlag; i++ {
		out, count := d.out(tmp, n, i)
		args := []string{"run", "-c", strconv.Itoa(*concFlag), "--progress", "none", "-o", out}
		if d.kind == "postgres" {
			args = append(args, "--table", fmt.Sprintf("bench_%d_%d", n, i))
		}
		hits := srv.hits.Load()
		runtime.GC()
		c, err := runChild(bin, append(args, in)...)
		if err != nil {
			return r, err
		}
		if c.exit != 0 {
			return r, fmt.Errorf("sluice run into %s on %d items exited %d:\n%s", d.name, n, c.exit, c.stderr)
		}
		got, err := count()
		if err != nil {
			return r, err
		}
		if got != n || srv.hits.Load()-hits != int64(n) {
			return r, fmt.Errorf("%d items into %s: %d results, %d requests at the server", n, d.name, got, srv.hits.Load()-hits)
		}
		walls = append(walls, c.wall)
		r.maxRSS = max(r.maxRSS, c.maxRSS)
		r.cpu, r.selfCPU = c.cpu, c.selfCPU
	}
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	r.wall = walls[len(walls)/2]
	return r, nil
}

func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/sluicehq/sluice\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("run inside the sluice repository (cd bench/cmd/dbbench && go run .); %s is not", dir)
		}
	}
}

// instant is a loopback HTTP server that answers every request at once.
type instant struct {
	url  string
	srv  *http.Server
	hits atomic.Int64
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
		IdleTimeout: 10 * time.Minute,
	}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *instant) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
}

func writeInput(path string, n int, base string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(w, `{"id":%d,"url":"%s/x","metadata":{"row":%d}}`+"\n", i, base, i)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// child is one finished run of the sluice binary.
type child struct {
	wall, cpu, selfCPU time.Duration
	maxRSS             int64
	exit               int
	stderr             string
}

func runChild(bin string, args ...string) (child, error) {
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
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
	return c, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countLines counts a file's lines, streaming: reading it whole would
// raise this process's peak RSS, which a child started after inherits as
// its own ru_maxrss (Linux carries the parent's high-water mark across the
// vfork and exec), making every later child look as large.
func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	buf := make([]byte, 256<<10)
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

// selfMaxRSS is this process's peak RSS: a floor under every child's
// reported peak (see countLines).
func selfMaxRSS() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss << 10
}

func countSQLite(path, table string) (int, error) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRow("SELECT count(*) FROM " + table).Scan(&n)
	return n, err
}

func countPostgres(u, table string) (int, error) {
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n)
	return n, err
}

// benchSchema makes a schema for the runs and returns a URL naming it in
// search_path, and a function dropping it.
func benchSchema(base string) (string, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(context.Background())
	b := make([]byte, 4)
	rand.Read(b)
	schema := "sluice_bench_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			logf("dropping schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			logf("dropping schema %s: %v", schema, err)
		}
	}
	return u.String(), drop, nil
}

func printReport(rootDir string, started time.Time, rows []row) {
	gover, _ := exec.Command("go", "version").Output()
	commit, _ := exec.Command("git", "-C", rootDir, "rev-parse", "--short", "HEAD").Output()
	pgver := ""
	for _, r := range rows {
		if r.dest.kind == "postgres" && pgver == "" {
			if c, err := pgx.Connect(context.Background(), r.dest.url); err == nil {
				c.QueryRow(context.Background(), "SHOW server_version").Scan(&pgver)
				c.Close(context.Background())
			}
		}
	}
	fmt.Println("## sluice run into a database (bench/cmd/dbbench)")
	fmt.Println()
	fmt.Printf("- Command: `cd bench/cmd/dbbench && go run . %s`\n", strings.Join(os.Args[1:], " "))
	fmt.Printf("- Date: %s (UTC, when the run started)\n", started.Format("Mon Jan 2 15:04 2006"))
	fmt.Printf("- Machine: %d cores, CPU %s; load average %s at the start, %s at the end (other work on the machine shares the cores: compare the ratios)\n", runtime.NumCPU(), cpuModel(), loadBefore, loadAvg())
	fmt.Printf("- Go: `%s`\n", strings.TrimSpace(string(gover)))
	if pgver != "" {
		fmt.Printf("- PostgreSQL %s on the same machine (loopback, synchronous_commit as configured)\n", pgver)
	}
	if len(commit) > 0 {
		fmt.Printf("- Code: commit %s\n", strings.TrimSpace(string(commit)))
	}
	fmt.Println()
	fmt.Printf("`sluice run -c %d --progress none -o DEST in.jsonl`, http-format GETs with a metadata object, against a loopback server answering 200 {\"ok\":true} at once.\n\n", *concFlag)
	fmt.Printf("Peak RSS is the child's ru_maxrss, which on Linux is at least this process's own peak when the child started (%.1f MiB at the end): a figure near that is the floor, not sluice's.\n\n", mib(selfMaxRSS()))
	fmt.Println("| items | destination | wall | items/s | vs JSONL | peak RSS | sluice CPU | target |")
	fmt.Println("| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
	anchor := map[int]float64{}
	for _, r := range rows {
		if r.dest.kind == "jsonl" {
			anchor[r.n] = r.perSec()
		}
	}
	for _, r := range rows {
		ratio, target := "1.00x", ""
		if a := anchor[r.n]; a > 0 && r.dest.kind != "jsonl" {
			ratio = fmt.Sprintf("%.2fx", r.perSec()/a)
		}
		switch r.dest.kind {
		case "sqlite":
			target = verdict(r.perSec() >= targetSQLite, targetSQLite)
		case "postgres":
			target = verdict(r.perSec() >= targetPostgres, targetPostgres)
		}
		fmt.Printf("| %d | %s | %.2fs | %.0f | %s | %.1f MiB | %.1fs | %s |\n", r.n, r.dest.name, r.wall.Seconds(), r.perSec(), ratio, mib(r.maxRSS), r.cpu.Seconds(), target)
	}
	fmt.Println()
}

func verdict(ok bool, target int) string {
	if ok {
		return fmt.Sprintf("≥ %d/s: met", target)
	}
	return fmt.Sprintf("≥ %d/s: **missed**", target)
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

// loadBefore is the load average when the measuring began.
var loadBefore string

// loadAvg is /proc/loadavg's 1-minute figure, "?" where there is none.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
