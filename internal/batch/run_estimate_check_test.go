package batch_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/mock"
)

// A max_tokens the APIs refuse ("ten", -5) is a bad line naming the
// field, in a run that estimates tokens: "ten" passed the dry run and
// was charged no tokens against the budget, -5 the default.
func TestRunMaxTokensNotAPositiveIntegerIsABadLine(t *testing.T) {
	srv := e2eMock(t, mock.Config{Style: mock.Anthropic, Seed: 38})
	var good []e2eGood
	for _, id := range []string{"a1", "a2", "a3"} {
		good = append(good, e2eGood{id, e2eMessage(id, 10)})
	}
	line := func(id, maxTokens string) string {
		return `{"custom_id": "` + id + `", "params": {"model": "claude-sonnet-4-5", "max_tokens": ` + maxTokens + `, "messages": [{"role": "user", "content": "hi"}]}}`
	}
	e2eBadInput(t, batch.Config{Format: input.FormatAnthropic, API: "anthropic", BaseURL: srv.URL(), Getenv: e2eEnv("ANTHROPIC_API_KEY", "sk-ant")},
		srv, "custom_id", good, []e2eBadCase{
			{line("ten", `"ten"`), `max_tokens: "ten": want a positive integer`},
			{line("neg", `-5`), `max_tokens: -5: want a positive integer`},
		})
}

// The dry run reports it too, and leaves it out of the items and the
// token estimate; so does a run of csv rows under a token limit.
func TestRunDryRunReportsAMaxTokensNotAPositiveInteger(t *testing.T) {
	srv := e2eMock(t, mock.Config{Style: mock.Anthropic, Seed: 39})
	dir := t.TempDir()
	in := e2eWrite(t, dir, "rows.csv", "id,max\nr1,10\nr2,\"\"\"ten\"\"\"\nr3,20\n")
	tokens, err := sluice.ParseRate("100000/m")
	if err != nil {
		t.Fatal(err)
	}
	o := e2eRun(t, batch.Config{Input: in, BaseURL: srv.URL(), URL: "/v1/messages", DryRun: true, Limits: sluice.Limits{Tokens: tokens},
		Template: `{"model":"m","max_tokens":{{.max}},"messages":[{"role":"user","content":"hi"}]}`})
	if o.err != nil || o.code != 1 {
		t.Fatalf("dry run: exit %d, %v; want 1 (a bad line)\n%s", o.code, o.err, o.stderr)
	}
	if want := in + `: line 3: max_tokens: "ten": want a positive integer`; !strings.Contains(o.stderr, want) {
		t.Errorf("stderr does not report %q:\n%s", want, o.stderr)
	}
	for _, want := range []string{in + ": csv input, 2 items to run, 1 bad lines", "estimated tokens: 2 input, 30 output (at most)"} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("stdout does not say %q:\n%s", want, o.stdout)
		}
	}
}
