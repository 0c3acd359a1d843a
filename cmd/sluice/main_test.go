package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// run executes the command line and returns its output and error.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return 2
	}
	return 0
}

func TestHelpNamesTheCommands(t *testing.T) {
	out, err := run(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"demo", "mock", "version", "completion"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help does not mention %q:\n%s", want, out)
		}
	}
}

func TestVersion(t *testing.T) {
	out, err := run(t, "version")
	if err != nil || !strings.HasPrefix(out, "sluice ") || !strings.Contains(out, "go1.") {
		t.Fatalf("version = %q, %v", out, err)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		out, err := run(t, "completion", shell)
		if err != nil || !strings.Contains(out, "sluice") {
			t.Errorf("completion %s: %v (%d bytes)", shell, err, len(out))
		}
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	tests := [][]string{
		{"demo", "--requests", "0"},
		{"demo", "--rate", "fast"},
		{"demo", "--latency", "soon"},
		{"demo", "--progress", "loud"},
		{"demo", "--no-such-flag"},
		{"mock", "--rate", "20/x"},
		{"mock", "--style", "cobol"},
		{"no-such-command"},
	}
	for _, args := range tests {
		_, err := run(t, args...)
		if code := exitCode(err); code != 2 {
			t.Errorf("sluice %s: exit %d (%v), want 2", strings.Join(args, " "), code, err)
		}
	}
}

// Each flag's help says its default at most once: pflag adds "(default
// X)" to a flag whose default is not its zero value, so the text must not
// say it too (--burst did: "(default 1: evenly spaced) (default 1)").
func TestHelpShowsEachDefaultOnce(t *testing.T) {
	for _, cmd := range []string{"run", "mock", "demo"} {
		out, err := run(t, cmd, "--help")
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "-") && strings.Count(line, "(default") > 1 {
				t.Errorf("sluice %s --help says a default twice: %s", cmd, line)
			}
		}
	}
}

// --redis, --key and --redis-mode share the limits through Redis, and
// the help offers them.
func TestRunHelpOffersRedisFlags(t *testing.T) {
	out, err := run(t, "run", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--redis URL", "--key NAME", "--redis-mode"} {
		if !strings.Contains(out, flag) {
			t.Errorf("run --help does not list %s", flag)
		}
	}
}

// run --help names the variables the API keys are read from.
func TestRunHelpNamesTheKeyVariables(t *testing.T) {
	out, err := run(t, "run", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ANTHROPIC_API_KEY", "OPENAI_API_KEY"} {
		if !strings.Contains(out, want) {
			t.Errorf("run --help does not name %s:\n%s", want, out)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	out, err := run(t, "--version")
	want, _ := run(t, "version")
	if err != nil || out != want || !strings.HasPrefix(out, "sluice ") {
		t.Fatalf("--version = %q, %v; want %q as `sluice version` prints", out, err, want)
	}
}

// `sluice run` alone is what a new user types first: it shows the usage
// with the examples, and exits 2.
func TestRunWithoutInputShowsUsage(t *testing.T) {
	out, err := run(t, "run")
	if code := exitCode(err); code != 2 {
		t.Fatalf("sluice run: exit %d (%v); want 2", code, err)
	}
	for _, want := range []string{"Usage:", "sluice run [flags] INPUT", "Examples:", "sluice run --api anthropic", "--rate"} {
		if !strings.Contains(out, want) {
			t.Errorf("sluice run does not show %q:\n%s", want, out)
		}
	}
	if !strings.Contains(err.Error(), "INPUT") {
		t.Errorf("error %q does not say what is missing", err)
	}
}

// A bad flag value is named once, with what is wanted: not the parser's
// own "sluice: rate ...: bad rate" after the flag's name.
func TestBadRateSaysWhatIsWantedOnce(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--rate", "20", "in.jsonl"}, `--rate "20": want COUNT/PERIOD such as 50/s`},
		{[]string{"run", "--tokens", "1/fortnight", "in.jsonl"}, `--tokens "1/fortnight": unknown period unit "fortnight" (want ms, s, m, h, d or a duration like 10s)`},
		{[]string{"mock", "--rate", "20"}, `--rate "20": want N/period, such as 20/s, 1200/m or 100/10s`},
		{[]string{"demo", "--rate", "0/s"}, `--rate "0/s": count "0" must be positive`},
	}
	for _, tt := range tests {
		_, err := run(t, tt.args...)
		if exitCode(err) != 2 || err.Error() != tt.want {
			t.Errorf("sluice %s: exit %d, %q; want 2, %q", strings.Join(tt.args, " "), exitCode(err), err, tt.want)
		}
	}
}

// mock --help lists what each style serves.
func TestMockHelpListsEndpoints(t *testing.T) {
	out, err := run(t, "mock", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/v1/messages", "/v1/messages/count_tokens", "/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/__stats", "any method and path"} {
		if !strings.Contains(out, want) {
			t.Errorf("mock --help does not list %s:\n%s", want, out)
		}
	}
}

// mock's setting errors name the flag a user typed, as every other
// command's do, not the Go field behind it (OutputRate, Fail, Tokens).
func TestMockErrorsNameFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"mock", "--output-rate", "-3"}, `--output-rate: -3 is not a finite rate of zero or more`},
		{[]string{"mock", "--slow-bodies", "2"}, `--slow-bodies: 2 is not a fraction between 0 and 1`},
		{[]string{"mock", "--style", "openai", "--input-tokens", "10/s"}, `--input-tokens: style openai has one token limit (see --tokens)`},
		{[]string{"mock", "--style", "generic", "--quota", "5"}, `--quota: not used by style generic`},
		{[]string{"mock", "--fail", "0.6", "--resets", "0.6"}, `--fail: 0.6, with 0.6 resets, is more than all requests (see --resets)`},
		{[]string{"mock", "--concurrency", "-1"}, `--concurrency: -1 is negative`},
	}
	for _, tt := range tests {
		_, err := run(t, tt.args...)
		if exitCode(err) != 2 || err.Error() != tt.want {
			t.Errorf("sluice %s: exit %d, %q; want 2, %q", strings.Join(tt.args, " "), exitCode(err), err, tt.want)
		}
	}
}
