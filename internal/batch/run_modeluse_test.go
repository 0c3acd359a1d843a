package batch_test

import (
	"bytes"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/apitest"
	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/mock"
)

// countingBase counts the requests that reach the API.
type countingBase struct {
	base http.RoundTripper
	sent atomic.Int64
}

func (c *countingBase) RoundTrip(req *http.Request) (*http.Response, error) {
	c.sent.Add(1)
	return c.base.RoundTrip(req)
}

// sentAtWarning is a stderr that notes how many requests had been sent
// when each warning was written.
type sentAtWarning struct {
	mu    sync.Mutex
	b     bytes.Buffer
	c     *countingBase
	sents []int64
}

func (w *sentAtWarning) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(p, []byte("warning")) {
		w.sents = append(w.sents, w.c.sent.Load())
	}
	return w.b.Write(p)
}

// modelLines returns anthropic batch lines, the model of line i (from 1)
// given by model(i), long enough that 2000 are more than the start of the
// input a run reads before sending.
func modelLines(n int, model func(i int) string) string {
	var b strings.Builder
	pad := strings.Repeat("x", 100)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `{"custom_id":"m%05d","params":{"model":%q,"max_tokens":8,"messages":[{"role":"user","content":"%s"}]}}`+"\n", i, model(i), pad)
	}
	return b.String()
}

func modelUseConfig(input string, c *countingBase, models map[string]sluice.Limits) batch.Config {
	return batch.Config{
		Input: input, API: "anthropic", BaseURL: "http://api.test", Getenv: e2eEnv("ANTHROPIC_API_KEY", "sk-ant-e2e"), Base: c, Progress: "none",
		ModelLimits: models, ModelLimitFlags: map[string][]string{},
	}
}

// TestRunWarnsEarlyOfAModelLimitATypoLeavesUnused protects a run from a
// typo in a model's name, on an input longer than the start read before
// sending: the models there differ from the name only by punctuation, so
// the run warns before anything is sent (of those lines), and again, for
// good, once the input is read to its end. The run is not stopped.
func TestRunWarnsEarlyOfAModelLimitATypoLeavesUnused(t *testing.T) {
	srv, err := mock.New(mock.Config{Style: mock.Anthropic})
	if err != nil {
		t.Fatal(err)
	}
	c := &countingBase{base: apitest.RoundTripper{Handler: srv}}
	stderr := &sentAtWarning{c: c}
	path := e2eWrite(t, t.TempDir(), "big.jsonl", modelLines(2000, func(int) string { return "claude-haiku-4-5" }))
	cfg := modelUseConfig(path, c, map[string]sluice.Limits{"claude-haiku-4.5": {Rate: sluice.PerSecond(1000)}})
	cfg.ModelLimitFlags["claude-haiku-4.5"] = []string{"--rate claude-haiku-4.5=1000/s"}
	cfg.Stderr = stderr
	sum, err := batch.Run(t.Context(), cfg)
	if code := batch.ExitCode(sum, err); code != 0 || sum.Succeeded != 2000 {
		t.Fatalf("Run: exit %d, %v, %d succeeded; want 0 and 2000\n%s", code, err, sum.Succeeded, stderr.b.String())
	}
	out := stderr.b.String()
	early := "sluice: warning: --rate claude-haiku-4.5=1000/s: none of the first "
	early2 := " lines of " + path + " goes by these limits (none has model claude-haiku-4.5 or a version of it); they use claude-haiku-4-5; did you mean claude-haiku-4-5?\n"
	final := "sluice: warning: --rate claude-haiku-4.5=1000/s: no line of " + path + " goes by these limits (none has model claude-haiku-4.5 or a version of it); the lines use claude-haiku-4-5; did you mean claude-haiku-4-5?\n"
	if !strings.Contains(out, early) || !strings.Contains(out, early2) || strings.Count(out, final) != 1 {
		t.Fatalf("want a warning of the first lines, then one of all of them:\n%s", out)
	}
	if len(stderr.sents) != 2 || stderr.sents[0] != 0 {
		t.Errorf("requests sent at each warning: %v; want 2 warnings, the first before anything was sent", stderr.sents)
	}
}

// TestRunWarnsOfAnUnusedModelLimitAtTheInputsEnd protects against false
// alarms: on standard input, a name no line at the start uses, with no
// model near it, is warned of only once the input is read to its end, and
// not at all when a later line uses it; a line done in an earlier run
// still counts as a line of the input.
func TestRunWarnsOfAnUnusedModelLimitAtTheInputsEnd(t *testing.T) {
	srv, err := mock.New(mock.Config{Style: mock.Anthropic})
	if err != nil {
		t.Fatal(err)
	}
	c := &countingBase{base: apitest.RoundTripper{Handler: srv}}
	lines := modelLines(2000, func(i int) string {
		if i == 1900 {
			return "claude-sonnet-4-5-20250929"
		}
		return "claude-haiku-4-5"
	})
	dir := t.TempDir()
	cfg := modelUseConfig("-", c, map[string]sluice.Limits{"claude-sonnet-4-5": {Rate: sluice.PerSecond(1000)}, "gpt-4o": {Rate: sluice.PerSecond(1000)}})
	cfg.ModelLimitFlags["gpt-4o"] = []string{"--rate gpt-4o=1000/s"}
	cfg.Stdin = strings.NewReader(lines)
	cfg.Out = filepath.Join(dir, "out.jsonl")
	stderr := &sentAtWarning{c: c}
	cfg.Stderr = stderr
	sum, err := batch.Run(t.Context(), cfg)
	if code := batch.ExitCode(sum, err); code != 0 || sum.Succeeded != 2000 {
		t.Fatalf("Run: exit %d, %v, %d succeeded; want 0 and 2000\n%s", code, err, sum.Succeeded, stderr.b.String())
	}
	out := stderr.b.String()
	want := "sluice: warning: --rate gpt-4o=1000/s: no line of stdin goes by these limits (none has model gpt-4o or a version of it); the lines use claude-haiku-4-5, claude-sonnet-4-5-20250929\n"
	if strings.Count(out, "warning") != 1 || !strings.Contains(out, want) {
		t.Fatalf("want one warning, %q:\n%s", want, out)
	}
	if stderr.sents[0] == 0 {
		t.Errorf("warned before anything was sent, from the start of the input alone")
	}

	// Again, every line done before: each is still a line of the input.
	cfg.Stdin = strings.NewReader(lines)
	cfg.ModelLimits = map[string]sluice.Limits{"claude-sonnet-4-5": {Rate: sluice.PerSecond(1000)}}
	cfg.Stderr = stderr
	stderr.b.Reset()
	sum, err = batch.Run(t.Context(), cfg)
	if code := batch.ExitCode(sum, err); code != 0 || sum.Resumed != 2000 {
		t.Fatalf("Run again: exit %d, %v, %d resumed; want 0 and 2000\n%s", code, err, sum.Resumed, stderr.b.String())
	}
	if strings.Contains(stderr.b.String(), "warning") {
		t.Errorf("a limit the (resumed) lines use is warned of:\n%s", stderr.b.String())
	}
}
