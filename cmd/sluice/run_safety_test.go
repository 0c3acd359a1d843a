package main_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunBinaryStopsADoomedRun protects a batch from a wrong key, through
// the built binary: against a loopback server answering 401 to
// everything, a 100-item run starts by naming where it goes and the key's
// variable (not its value), stops after the first few calls with exit 3
// and what to check, and leaves most items not started; --keep-going
// sends them all; a --progress it does not know is exit 2, nothing sent.
func TestRunBinaryStopsADoomedRun(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix only, as TestRunBinary")
	}
	bin := binBuild(t)
	var seen atomic.Int64
	deny := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)
	}))
	defer deny.Close()
	dir := t.TempDir()
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, `{"custom_id":"m%03d","params":{"model":"claude-haiku-4-5","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}}`+"\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "in.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	const secret = "sk-ant-BINARY-SECRET-42"
	run := func(args ...string) binResult {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = binEnv("ANTHROPIC_API_KEY="+secret, "ANTHROPIC_BASE_URL="+deny.URL+"/v1")
		var stdout, stderr binBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		code := binWait(t, cmd, 60*time.Second)
		return binResult{code, stdout.String(), stderr.String()}
	}

	r := run("run", "--api", "anthropic", "in.jsonl")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s", r.code, r.stderr)
	}
	first, _, _ := strings.Cut(r.stderr, "\n")
	for _, want := range []string{"in.jsonl (anthropic lines) to " + deny.URL + "/v1 (from ANTHROPIC_BASE_URL)", "auth: ANTHROPIC_API_KEY", "concurrency 8"} {
		if !strings.Contains(first, want) {
			t.Errorf("start line does not say %q: %s", want, first)
		}
	}
	if !strings.Contains(r.stderr, "401 Unauthorized") || !strings.Contains(r.stderr, "check ANTHROPIC_API_KEY") {
		t.Errorf("stderr does not say why it stopped and what to check:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr+r.stdout, secret) {
		t.Errorf("the key's value is in the output:\n%s", r.stderr)
	}
	if c := binSummary(t, r.stderr); c.notStarted < 70 || c.succeeded+c.failed+c.notStarted != 100 {
		t.Errorf("%+v: want all 100 accounted for, most not started", c)
	}
	if n := seen.Load(); n > 30 {
		t.Errorf("the server saw %d calls; want the first few", n)
	}

	seen.Store(0)
	r = run("run", "--api", "anthropic", "--keep-going", "-o", "keep.jsonl", "in.jsonl")
	if r.code != 1 || seen.Load() != 100 {
		t.Errorf("--keep-going: exit %d after %d calls; want 1 after 100\n%s", r.code, seen.Load(), r.stderr)
	}

	seen.Store(0)
	r = run("run", "--api", "anthropic", "--progress", "fancy", "-o", "fancy.jsonl", "in.jsonl")
	if r.code != 2 || !strings.Contains(r.stderr, `--progress "fancy"`) || seen.Load() != 0 {
		t.Errorf("--progress fancy: exit %d, %d calls; want 2, none\n%s", r.code, seen.Load(), r.stderr)
	}
}
