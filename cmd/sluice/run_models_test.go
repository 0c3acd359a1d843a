package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/mock"
)

// TestRunBinaryWarnsOfAModelLimitNoLineUses protects a per-model limit
// from a typo (an outside tester's finding): --rate claude-haiku-4.5=1/s
// on lines of claude-haiku-4-5 limited nothing, and neither --dry-run,
// which reads every line, nor the run said so; the run went at 25/s. Now
// the dry run's report and the run's stderr name the flag, the model it
// names, the models the lines use and the nearest of them; the exit code
// is the same, and a limit that matches (by the gates' rule: a name covers
// its versions) says nothing.
func TestRunBinaryWarnsOfAModelLimitNoLineUses(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix only, as TestRunBinary")
	}
	bin := binBuild(t)
	srv := binMock(t, mock.Config{Style: mock.Anthropic})
	dir := t.TempDir()
	write := func(name string, models ...string) {
		t.Helper()
		var b strings.Builder
		for i := range 30 {
			fmt.Fprintf(&b, `{"custom_id":"m%03d","params":{"model":%q,"max_tokens":8,"messages":[{"role":"user","content":"hi"}]}}`+"\n", i, models[i%len(models)])
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("anth.jsonl", "claude-haiku-4-5")
	write("two.jsonl", "claude-haiku-4-5", "claude-sonnet-4-5-20250929")
	write("many.jsonl", "m-a", "m-b", "m-c", "m-d", "m-e", "m-f", "m-g")
	run := func(args ...string) binResult {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"run", "--restart", "--api", "anthropic", "--base-url", srv.URL(), "--progress", "none"}, args...)...)
		cmd.Dir = dir
		cmd.Env = binEnv("ANTHROPIC_API_KEY=sk-ant-test")
		var stdout, stderr binBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		code := binWait(t, cmd, 60*time.Second)
		return binResult{code, stdout.String(), stderr.String()}
	}
	typo := "warning: --rate claude-haiku-4.5=1/s: no line of anth.jsonl goes by these limits (none has model claude-haiku-4.5 or a version of it); the lines use claude-haiku-4-5; did you mean claude-haiku-4-5?"

	t.Run("DryRun", func(t *testing.T) {
		r := run("--dry-run", "--rate", "claude-haiku-4.5=1/s", "anth.jsonl")
		if r.code != 0 {
			t.Fatalf("exit %d, want 0 (a warning, not an error)\n%s%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, typo+"\n") {
			t.Errorf("the dry run's report does not warn %q:\n%s", typo, r.stdout)
		}
	})
	t.Run("Run", func(t *testing.T) {
		before := srv.Stats().Requests
		r := run("--rate", "claude-haiku-4.5=1/s", "anth.jsonl")
		if r.code != 0 {
			t.Fatalf("exit %d, want 0 (a warning, not an error)\n%s", r.code, r.stderr)
		}
		if got := srv.Stats().Requests - before; got != 30 {
			t.Errorf("%d requests, want 30", got)
		}
		// The whole input is read before anything is sent: the warning
		// comes with the start line, once.
		if n := strings.Count(r.stderr, "sluice: "+typo+"\n"); n != 1 {
			t.Fatalf("the run warns %d times, want once, %q:\n%s", n, typo, r.stderr)
		}
		start, warn, summary := strings.Index(r.stderr, "sluice: anth.jsonl"), strings.Index(r.stderr, typo), strings.Index(r.stderr, "succeeded")
		if start < 0 || !(start < warn && warn < summary) {
			t.Errorf("want the start line, then the warning, then the summary:\n%s", r.stderr)
		}
	})
	t.Run("SeveralFlags", func(t *testing.T) {
		r := run("--dry-run", "--tokens", "gpt-4o=40000/m", "-c", "Claude-Haiku-4.5=2", "--output-tokens", "Claude-Haiku-4.5=8000/m", "--rate", "claude-sonnet-4-5=5/s", "two.jsonl")
		if r.code != 0 {
			t.Fatalf("exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{
			"warning: --tokens gpt-4o=40000/m: no line of two.jsonl goes by these limits (none has model gpt-4o or a version of it); the lines use claude-haiku-4-5, claude-sonnet-4-5-20250929\n",
			"warning: --concurrency Claude-Haiku-4.5=2, --output-tokens Claude-Haiku-4.5=8000/m: no line of two.jsonl goes by these limits (none has model Claude-Haiku-4.5 or a version of it); the lines use claude-haiku-4-5, claude-sonnet-4-5-20250929; did you mean claude-haiku-4-5?\n",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("the dry run's report does not warn %q:\n%s", want, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "warning: --rate claude-sonnet-4-5") {
			t.Errorf("claude-sonnet-4-5 covers claude-sonnet-4-5-20250929, yet it is warned of:\n%s", r.stdout)
		}
	})
	t.Run("ManyModels", func(t *testing.T) {
		r := run("--dry-run", "--rate", "m-h=1/s", "many.jsonl")
		want := "warning: --rate m-h=1/s: no line of many.jsonl goes by these limits (none has model m-h or a version of it); the lines use 7 models: m-a, m-b, m-c, m-d, m-e and 2 more\n"
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("exit %d (want 0); the dry run's report does not warn %q:\n%s", r.code, want, r.stdout)
		}
	})
	// Of two names covering a model, the longest takes it (as the gates
	// decide): the other covers nothing here, and is warned of.
	t.Run("LongerNameTakes", func(t *testing.T) {
		r := run("--dry-run", "--rate", "claude-haiku-4=1000/s", "-c", "claude-haiku-4-5=4", "anth.jsonl")
		want := "warning: --rate claude-haiku-4=1000/s: no line of anth.jsonl goes by these limits (claude-haiku-4-5 has those of claude-haiku-4-5, the longest name covering it); the lines use claude-haiku-4-5\n"
		if r.code != 0 || !strings.Contains(r.stdout, want) || strings.Count(r.stdout, "warning") != 1 {
			t.Errorf("exit %d (want 0); want one warning, %q:\n%s", r.code, want, r.stdout)
		}
	})
	t.Run("Matched", func(t *testing.T) {
		for _, args := range [][]string{
			{"--dry-run", "--rate", "claude-haiku-4=1000/s", "anth.jsonl"},
			{"--rate", "claude-haiku-4=1000/s", "anth.jsonl"},
			{"--dry-run", "-c", "claude-haiku-4-5=4", "--rate", "claude-sonnet-4-5=1000/s", "two.jsonl"},
			{"-c", "claude-haiku-4-5=4", "--rate", "claude-sonnet-4-5=1000/s", "two.jsonl"},
		} {
			r := run(args...)
			if r.code != 0 || strings.Contains(r.stdout+r.stderr, "warning") {
				t.Errorf("sluice run %s: exit %d (want 0), and no warning wanted:\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
			}
		}
	})
}
