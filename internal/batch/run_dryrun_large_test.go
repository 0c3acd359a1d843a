package batch_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/mock"
)

// A dry run said nothing of an item whose cost no limit could ever admit
// (max_tokens 20000 through a budget of 1000 tokens a minute): the run
// then failed it at once as fatal. The dry run now names each such item
// by its line, counts it as an item that would fail (exit 1), and says
// what to change; the items that fit are planned as before.
func TestRunDryRunNamesItemsNoLimitCouldAdmit(t *testing.T) {
	srv := e2eMock(t, mock.Config{Style: mock.OpenAI, Seed: 33})
	dir := t.TempDir()
	lines := []string{e2eChat("small", 10), e2eChat("huge", 20000), e2eChat("fine", 20), e2eChat("vast", 1e9)}
	path := e2eWrite(t, dir, "batch.jsonl", strings.Join(lines, "\n")+"\n")
	tokens, err := sluice.ParseRate("1000/m")
	if err != nil {
		t.Fatal(err)
	}
	o := e2eRun(t, batch.Config{Input: path, API: "openai", BaseURL: srv.URL(), DryRun: true, Limits: sluice.Limits{Tokens: tokens}})
	if o.err != nil || o.code != 1 {
		t.Fatalf("dry run: exit %d, %v; want 1 (items that would fail)\n%s", o.code, o.err, o.stderr)
	}
	for _, want := range []string{path + ": line 2: ", path + ": line 4: ", "more than the token budget of 1000/m could ever admit (1000 at most)"} {
		if !strings.Contains(o.stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, o.stderr)
		}
	}
	if strings.Contains(o.stderr, "line 1:") || strings.Contains(o.stderr, "line 3:") {
		t.Errorf("stderr names an item that fits:\n%s", o.stderr)
	}
	// The estimate leaves out the tokens of the two that can never be
	// sent (max_tokens 10 and 20 remain).
	for _, want := range []string{"4 items to run, 0 bad lines", "2 items ask more than a limit could ever admit", " input, 30 output (at most)"} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("stdout does not say %q:\n%s", want, o.stdout)
		}
	}
	if srv.Stats().Requests != 0 {
		t.Errorf("a dry run sent requests")
	}
}
