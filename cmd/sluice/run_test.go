package main_test

// End-to-end tests of `sluice run` through the built binary: exit codes,
// signals, and kill -9 at random moments. The binary is built once, by
// TestRunBinary, whose subtests share it.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/mock"
)

func TestRunBinary(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals and kill -9 are tested on Unix")
	}
	bin := binBuild(t)
	t.Run("Help", func(t *testing.T) { testRunHelp(t, bin) })
	t.Run("UsageErrors", func(t *testing.T) { testRunUsageErrors(t, bin) })
	t.Run("ExitCodes", func(t *testing.T) { testRunExitCodes(t, bin) })
	t.Run("RetriesZero", func(t *testing.T) { testRunRetriesZero(t, bin) })
	t.Run("KillNine", func(t *testing.T) { testRunKillNine(t, bin) })
	t.Run("KillNineChanged", func(t *testing.T) { testRunKillNineChanged(t, bin) })
	t.Run("InterruptOnce", func(t *testing.T) { testRunInterruptOnce(t, bin) })
	t.Run("InterruptTwice", func(t *testing.T) { testRunInterruptTwice(t, bin) })
	t.Run("Terminate", func(t *testing.T) { testRunTerminate(t, bin) })
}

// binBuild builds the command into the test's temporary directory.
func binBuild(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "sluice")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// binResult is how one run of the binary ended.
type binResult struct {
	code           int
	stdout, stderr string
}

// binBuffer is a buffer the child's output can be copied into while the
// test reads it.
type binBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *binBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *binBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// binEnv is the test's environment without the API keys, plus kv.
func binEnv(kv ...string) []string {
	var e []string
	for _, v := range os.Environ() {
		if !strings.HasPrefix(v, "ANTHROPIC_API_KEY=") && !strings.HasPrefix(v, "OPENAI_API_KEY=") {
			e = append(e, v)
		}
	}
	return append(e, kv...)
}

// binStart starts the binary with args in dir.
func binStart(t *testing.T, bin, dir string, args ...string) (*exec.Cmd, *binBuffer, *binBuffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = binEnv()
	var stdout, stderr binBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sluice: %v", err)
	}
	return cmd, &stdout, &stderr
}

// binWait waits for cmd to exit, at most limit, and returns its exit code
// (-1 when a signal ended it).
func binWait(t *testing.T, cmd *exec.Cmd, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return binCode(t, err)
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		t.Fatalf("sluice %s did not exit within %v", strings.Join(cmd.Args[1:], " "), limit)
		return 0
	}
}

func binCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("waiting for sluice: %v", err)
	return 0
}

// binRun runs the binary to its end.
func binRun(t *testing.T, bin, dir string, args ...string) binResult {
	t.Helper()
	cmd, stdout, stderr := binStart(t, bin, dir, args...)
	code := binWait(t, cmd, 60*time.Second)
	return binResult{code, stdout.String(), stderr.String()}
}

// binInput writes an http input of n items, GETs of /item/<id> relative
// to the base URL, and returns the ids.
func binInput(t *testing.T, path string, n int) []string {
	t.Helper()
	var b strings.Builder
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("k%05d", i+1)
		fmt.Fprintf(&b, `{"id": %q, "url": "/item/%s"}`+"\n", ids[i], ids[i])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return ids
}

// binResults reads a results file and checks that it is whole: every
// line a JSON object with an id from want, no id twice, and, unless torn
// is allowed (after a kill -9, which the next run repairs), no torn last
// line. It returns the ids in the file.
func binResults(t *testing.T, path string, want []string, tornOK bool) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		if !tornOK {
			t.Fatalf("%s ends in a torn line: %q", path, b[max(0, len(b)-80):])
		}
		b = b[:bytes.LastIndexByte(b, '\n')+1]
	}
	valid := make(map[string]bool, len(want))
	for _, id := range want {
		valid[id] = true
	}
	seen := map[string]bool{}
	var ids []string
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r struct {
			ID     string `json:"id"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%s line %d is not a results line (%v): %q", path, i+1, err, line)
		}
		switch {
		case !valid[r.ID]:
			t.Fatalf("%s line %d: id %q is not in the input", path, i+1, r.ID)
		case seen[r.ID]:
			t.Fatalf("%s line %d: id %q is in the file twice", path, i+1, r.ID)
		case r.Status != 200:
			t.Fatalf("%s line %d: status %d", path, i+1, r.Status)
		}
		seen[r.ID] = true
		ids = append(ids, r.ID)
	}
	return ids
}

func binMock(t *testing.T, cfg mock.Config) *mock.Server {
	t.Helper()
	srv, err := mock.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func testRunHelp(t *testing.T, bin string) {
	r := binRun(t, bin, t.TempDir(), "run", "--help")
	if r.code != 0 {
		t.Fatalf("run --help: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"urls", "http", "openai", "anthropic", "csv", "--format", "--template", "--dry-run", "--restart", "--ordered",
		"Exit codes", "0 all succeeded", "1 some items failed", "2 usage", "3 stopped early",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("run --help does not mention %q:\n%s", want, r.stdout)
		}
	}
}

func testRunUsageErrors(t *testing.T, bin string) {
	srv := binMock(t, mock.Config{Style: mock.Anthropic})
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	line := `{"custom_id": "a", "params": {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}}`
	if err := os.WriteFile(in, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := "--base-url=" + srv.URL()
	for _, args := range [][]string{
		{"run"},
		{"run", in, in},
		{"run", "--no-such-flag", in},
		{"run", base, filepath.Join(dir, "missing.jsonl")},
		{"run", base, dir},
		{"run", base, "--format", "xml", in},
		{"run", "--api", "anthropic", base, in},
		{"run", "--api", "openai", base, in},
		{"run", base, "--redis", "redis://127.0.0.1:6379", in},
		{"run", base, "--key", "shared", in},
		{"run", base, "--redis", "redis://127.0.0.1:6379", "--key", "k", "--redis-mode", "maybe", in},
		{"run", base, "--redis", "http://127.0.0.1:6379", "--key", "k", in},
		{"run", base, "-c", "0", in},
		{"run", base, "--rate", "fast", in},
		{"run", base, "--tokens", "10/fortnight", in},
		{"run", base, "-H", "no colon", in},
		{"run", base, "--template", "{{.x}}", in},
	} {
		r := binRun(t, bin, dir, args...)
		if r.code != 2 {
			t.Errorf("sluice %s: exit %d, want 2\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "sluice") && !strings.Contains(r.stderr, "Error") {
			t.Errorf("sluice %s: says nothing on stderr", strings.Join(args, " "))
		}
	}
	if st := srv.Stats(); st.Requests != 0 {
		t.Errorf("usage errors sent %d requests", st.Requests)
	}
	r := binRun(t, bin, dir, "run", "--api", "anthropic", base, in)
	if !strings.Contains(r.stderr, "ANTHROPIC_API_KEY") {
		t.Errorf("a missing key is not named:\n%s", r.stderr)
	}
}

// binSummaryLine matches the counts of the summary line the binary prints.
var binSummaryLine = regexp.MustCompile(`sluice: (\d+) succeeded, (\d+) failed, (\d+) bad lines, (\d+) skipped \(done before\), (\d+) not finished`)

type binCounts struct{ succeeded, failed, bad, skipped, notStarted int }

func binSummary(t *testing.T, stderr string) binCounts {
	t.Helper()
	m := binSummaryLine.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no summary line on stderr:\n%s", stderr)
	}
	n := make([]int, 5)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return binCounts{n[0], n[1], n[2], n[3], n[4]}
}

func testRunExitCodes(t *testing.T, bin string) {
	srv := binMock(t, mock.Config{})
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl")
	ids := binInput(t, good, 20)

	r := binRun(t, bin, dir, "run", "--progress", "none", "--base-url", srv.URL(), "good.jsonl")
	if r.code != 0 {
		t.Fatalf("good input: exit %d\n%s", r.code, r.stderr)
	}
	if got := binSummary(t, r.stderr); got != (binCounts{20, 0, 0, 0, 0}) {
		t.Errorf("summary %+v, want 20 succeeded", got)
	}
	results := filepath.Join(dir, "good.results.jsonl")
	if got := binResults(t, results, ids, false); len(got) != 20 {
		t.Errorf("results file has %d ids, want 20", len(got))
	}
	if !strings.Contains(r.stderr, "results in good.results.jsonl") {
		t.Errorf("the summary does not name the results file:\n%s", r.stderr)
	}

	// Again: everything is skipped, nothing sent.
	r = binRun(t, bin, dir, "run", "--progress", "none", "--base-url", srv.URL(), "good.jsonl")
	if r.code != 0 || binSummary(t, r.stderr) != (binCounts{0, 0, 0, 20, 0}) {
		t.Errorf("rerun: exit %d, %+v; want 0 with 20 skipped", r.code, binSummary(t, r.stderr))
	}
	if st := srv.Stats(); st.Requests != 20 {
		t.Errorf("mock saw %d requests, want 20", st.Requests)
	}

	// Bad lines: exit 1, each reported, the rest run.
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"id": "b1", "url": "/item/b1"}`+"\n"+`{"id": "b2", "url": `+"\n"+`{"id": "b1", "url": "/item/b1"}`+"\n"), 0o644)
	r = binRun(t, bin, dir, "run", "--progress", "none", "--base-url", srv.URL(), bad)
	if r.code != 1 || binSummary(t, r.stderr) != (binCounts{1, 0, 2, 0, 0}) {
		t.Errorf("bad lines: exit %d, %+v; want 1 with 1 succeeded, 2 bad\n%s", r.code, binSummary(t, r.stderr), r.stderr)
	}
	for _, want := range []string{"line 2: invalid JSON", `line 3: repeated id "b1" (first on line 1)`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not report %q:\n%s", want, r.stderr)
		}
	}

	// Failed items: exit 1, the errors file named.
	gone := httptest.NewServer(http.NotFoundHandler())
	defer gone.Close()
	r = binRun(t, bin, dir, "run", "--progress", "none", "--keep-going", "--base-url", gone.URL, "-o", "f.jsonl", "good.jsonl")
	if r.code != 1 || binSummary(t, r.stderr) != (binCounts{0, 20, 0, 0, 0}) || !strings.Contains(r.stderr, "failures in f.errors.jsonl") {
		t.Errorf("failures: exit %d; want 1 with 20 failed and the errors file named\n%s", r.code, r.stderr)
	}

	// Dry run: the plan on stdout, nothing sent.
	before := srv.Stats().Requests
	r = binRun(t, bin, dir, "run", "--dry-run", "--rate", "10/s", "--base-url", srv.URL(), "-o", "dry.jsonl", "good.jsonl")
	if r.code != 0 || !strings.Contains(r.stdout, "good.jsonl: http input, 20 items to run, 0 bad lines") || !strings.Contains(r.stdout, "least time at the given limits: 2s") {
		t.Errorf("dry run: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if srv.Stats().Requests != before {
		t.Errorf("a dry run sent requests")
	}
	// The same command as the first run's, done: the plan says so
	// (reviewer r2 F4), and the results file is left as it was.
	kept, _ := os.ReadFile(results)
	r = binRun(t, bin, dir, "run", "--dry-run", "--rate", "10/s", "--base-url", srv.URL(), "good.jsonl")
	for _, want := range []string{"results to good.results.jsonl;", "results: good.results.jsonl: 20 earlier results\n", "good.jsonl: http input, 0 items to run, 0 bad lines\n", "good.jsonl: 20 done before, skipped\n", "nothing to run\n"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("dry run of a done batch: exit %d, no %q in\nstdout: %s\nstderr: %s", r.code, want, r.stdout, r.stderr)
		}
	}
	if now, _ := os.ReadFile(results); !bytes.Equal(now, kept) || srv.Stats().Requests != before {
		t.Errorf("a dry run changed the results file or sent requests")
	}

	// Standard input.
	cmd := exec.Command(bin, "run", "--progress", "none", "--base-url", srv.URL(), "-o", "stdin.jsonl", "-")
	cmd.Dir, cmd.Env = dir, binEnv()
	f, err := os.Open(good)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); binCode(t, err) != 0 {
		t.Errorf("stdin: %v\n%s", err, out)
	}
	if got := binResults(t, filepath.Join(dir, "stdin.jsonl"), ids, false); len(got) != 20 {
		t.Errorf("stdin results has %d ids, want 20", len(got))
	}
}

// --retries 0 means what it says: failures are not retried.
func testRunRetriesZero(t *testing.T, bin string) {
	srv := binMock(t, mock.Config{Fail: 1})
	dir := t.TempDir()
	binInput(t, filepath.Join(dir, "in.jsonl"), 3)
	cmd, _, stderr := binStart(t, bin, dir, "run", "--progress", "none", "--retries", "0", "--base-url", srv.URL(), "in.jsonl")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// A retry comes after a backoff of up to seconds: stop at the first
	// rather than wait for them all.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			r := binResult{code: binCode(t, err), stderr: stderr.String()}
			if r.code != 1 || binSummary(t, r.stderr) != (binCounts{0, 3, 0, 0, 0}) || !strings.Contains(r.stderr, "sluice: 3 attempts (0 retries)") {
				t.Errorf("exit %d; want 1 with 3 failed after 3 attempts\n%s", r.code, r.stderr)
			}
			if st := srv.Stats(); st.Requests != 3 {
				t.Errorf("--retries 0 sent %d requests for 3 items, want 3", st.Requests)
			}
			return
		case <-tick.C:
			if n := srv.Stats().Requests; n > 3 {
				cmd.Process.Kill()
				<-exited
				t.Fatalf("--retries 0 retried: %d requests for 3 items that fail", n)
			}
		}
	}
}

// testRunKillNine kills the binary with SIGKILL at random moments until a
// run completes, and checks that the results file then holds every id
// exactly once. A round that completes before minKills kills is followed
// by another on a fresh results file, so that the test kills often enough
// however fast the machine.
func testRunKillNine(t *testing.T, bin string) {
	if testing.Short() {
		t.Skip("kills the binary many times")
	}
	srv := binMock(t, mock.Config{Latency: mock.FixedLatency(2 * time.Millisecond)})
	dir := t.TempDir()
	ids := binInput(t, filepath.Join(dir, "big.jsonl"), 5000)
	const minKills = 15
	kills := 0
	for round := 1; kills < minKills; round++ {
		if round > 10 {
			t.Fatalf("%d kills in %d rounds", kills, round-1)
		}
		k := binKillRound(t, bin, dir, srv, ids, fmt.Sprintf("round%d.jsonl", round))
		t.Logf("round %d: %d kills, then a run completed", round, k)
		kills += k
	}
	st := srv.Stats()
	t.Logf("%d kills; the mock answered %d calls", kills, st.Accepted)
}

// binKillRound runs the binary on ids, writing to out, killing it after
// 50-400ms until a run completes, and returns the number of kills.
func binKillRound(t *testing.T, bin, dir string, srv *mock.Server, ids []string, out string) int {
	t.Helper()
	results := filepath.Join(dir, out)
	kills, saved := 0, 0
	for iter := 0; ; iter++ {
		if iter > 100 {
			t.Fatalf("no run completed in %d tries", iter)
		}
		cmd, _, stderr := binStart(t, bin, dir, "run", "-c", "16", "--progress", "none", "--base-url", srv.URL(), "-o", out, "big.jsonl")
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if code := binCode(t, err); code != 0 {
				t.Fatalf("run %d: exit %d\n%s", iter, code, stderr.String())
			}
			if got := binResults(t, results, ids, false); len(got) != len(ids) {
				t.Fatalf("run %d exited 0 with %d of %d ids in the results file", iter, len(got), len(ids))
			}
			return kills
		case <-time.After(time.Duration(50+rand.IntN(351)) * time.Millisecond):
			cmd.Process.Signal(syscall.SIGKILL)
			if err := <-exited; err == nil {
				t.Logf("run %d completed as it was killed", iter)
				continue
			}
			kills++
		}
		if b, err := os.ReadFile(results); err == nil && len(b) > 0 && b[len(b)-1] != '\n' {
			t.Logf("kill %d left a torn last line", kills)
		}
		got := binResults(t, results, ids, true)
		if len(got) < saved {
			t.Fatalf("after kill %d the results file holds %d ids, fewer than the %d before: results were lost", kills, len(got), saved)
		}
		saved = len(got)
	}
}

// binHangingAPI is an API whose /item/slow* calls hang until released (or
// their client goes away), and whose other calls answer after a short
// delay.
type binHangingAPI struct {
	srv      *httptest.Server
	released chan struct{}
	once     sync.Once
	slowIn   atomic.Int64 // slow calls waiting
	answered atomic.Int64
}

func newBinHangingAPI(t *testing.T, delay time.Duration) *binHangingAPI {
	a := &binHangingAPI{released: make(chan struct{})}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/item/")
		if strings.HasPrefix(id, "slow") {
			a.slowIn.Add(1)
			defer a.slowIn.Add(-1)
			select {
			case <-a.released:
			case <-r.Context().Done():
				return
			}
		} else {
			time.Sleep(delay)
		}
		a.answered.Add(1)
		fmt.Fprintf(w, `{"ok": %q}`, id)
	}))
	t.Cleanup(func() { a.release(); a.srv.Close() })
	return a
}

func (a *binHangingAPI) release() { a.once.Do(func() { close(a.released) }) }

// binWaitFor polls cond every few milliseconds, failing after limit.
func binWaitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func binLineCount(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// One SIGINT: no new calls, those in flight finish, exit 3 with the results
// saved; the rerun does the rest.
func testRunInterruptOnce(t *testing.T, bin string) {
	api := newBinHangingAPI(t, 10*time.Millisecond)
	dir := t.TempDir()
	ids := binInput(t, filepath.Join(dir, "in.jsonl"), 600)
	results := filepath.Join(dir, "in.results.jsonl")
	args := []string{"run", "-c", "8", "--progress", "none", "--base-url", api.srv.URL, "in.jsonl"}

	cmd, _, stderr := binStart(t, bin, dir, args...)
	binWaitFor(t, "results", 20*time.Second, func() bool { return binLineCount(results) >= 30 })
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := binWait(t, cmd, 20*time.Second); code != 3 {
		t.Fatalf("after SIGINT: exit %d, want 3\n%s", code, stderr.String())
	}
	for _, want := range []string{"sluice: stopping", "stopped early: interrupted", "run the same command again"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
		}
	}
	first := binSummary(t, stderr.String())
	got := binResults(t, results, ids, false)
	if first.failed != 0 || first.succeeded != len(got) || len(got) >= len(ids) || len(got) < 30 {
		t.Errorf("after SIGINT: %+v with %d ids in the results file; want no failures, the succeeded saved, some left", first, len(got))
	}
	if n := api.answered.Load(); n != int64(first.succeeded) {
		t.Errorf("the API answered %d calls, the run saved %d: a call in flight was dropped", n, first.succeeded)
	}

	r := binRun(t, bin, dir, args...)
	if r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	second := binSummary(t, r.stderr)
	if second.skipped != first.succeeded || second.succeeded != len(ids)-first.succeeded {
		t.Errorf("rerun: %+v; want %d skipped and %d succeeded", second, first.succeeded, len(ids)-first.succeeded)
	}
	if got := binResults(t, results, ids, false); len(got) != len(ids) {
		t.Errorf("after the rerun the results file has %d ids, want %d", len(got), len(ids))
	}
}

// Two SIGINTs: exit 3 at once, the calls in flight (which here would
// hang for the 30s drain) cut and left for the next run, the summary
// printed, and no torn line.
func testRunInterruptTwice(t *testing.T, bin string) {
	api := newBinHangingAPI(t, 2*time.Millisecond)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	var b strings.Builder
	var ids []string
	for i := range 400 {
		id := fmt.Sprintf("fast%03d", i)
		if i%10 == 9 {
			id = fmt.Sprintf("slow%03d", i)
		}
		ids = append(ids, id)
		fmt.Fprintf(&b, `{"id": %q, "url": "/item/%s"}`+"\n", id, id)
	}
	os.WriteFile(in, []byte(b.String()), 0o644)
	results := filepath.Join(dir, "in.results.jsonl")
	args := []string{"run", "-c", "16", "--progress", "none", "--base-url", api.srv.URL, "in.jsonl"}

	cmd, _, stderr := binStart(t, bin, dir, args...)
	binWaitFor(t, "slow calls in flight", 20*time.Second, func() bool { return api.slowIn.Load() >= 2 && binLineCount(results) >= 5 })
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	binWaitFor(t, "the first SIGINT to be taken", 10*time.Second, func() bool { return strings.Contains(stderr.String(), "sluice: stopping") })
	if api.slowIn.Load() == 0 {
		t.Fatalf("no call in flight after the first SIGINT: the test proves nothing")
	}
	sent := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := binWait(t, cmd, 10*time.Second); code != 3 {
		t.Fatalf("after two SIGINTs: exit %d, want 3\n%s", code, stderr.String())
	}
	t.Logf("exited %v after the second SIGINT", time.Since(sent).Round(time.Millisecond))
	if log := stderr.String(); !strings.Contains(log, "cutting the calls in flight") || !strings.Contains(log, "not finished") {
		t.Errorf("stderr does not say it cut the calls in flight, or has no summary:\n%s", log)
	}
	saved := binResults(t, results, ids, false)
	if len(saved) == 0 {
		t.Errorf("no results saved")
	}
	for _, id := range saved {
		if strings.HasPrefix(id, "slow") {
			t.Errorf("%s is in the results, but its call never returned", id)
		}
	}

	// Released, the rerun finishes everything, each id once.
	api.release()
	r := binRun(t, bin, dir, args...)
	if r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	if got := binResults(t, results, ids, false); len(got) != len(ids) || !slices.Contains(got, "slow009") {
		t.Errorf("after the rerun the results file has %d ids, want %d", len(got), len(ids))
	}
}

// SIGTERM stops a run as SIGINT does.
func testRunTerminate(t *testing.T, bin string) {
	api := newBinHangingAPI(t, 10*time.Millisecond)
	dir := t.TempDir()
	ids := binInput(t, filepath.Join(dir, "in.jsonl"), 400)
	results := filepath.Join(dir, "in.results.jsonl")
	cmd, _, stderr := binStart(t, bin, dir, "run", "-c", "8", "--progress", "none", "--base-url", api.srv.URL, "in.jsonl")
	binWaitFor(t, "results", 20*time.Second, func() bool { return binLineCount(results) >= 10 })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := binWait(t, cmd, 20*time.Second); code != 3 {
		t.Fatalf("after SIGTERM: exit %d, want 3\n%s", code, stderr.String())
	}
	got := binResults(t, results, ids, false)
	if s := binSummary(t, stderr.String()); s.succeeded != len(got) || s.failed != 0 || len(got) >= len(ids) {
		t.Errorf("after SIGTERM: %+v with %d ids saved", s, len(got))
	}
}
