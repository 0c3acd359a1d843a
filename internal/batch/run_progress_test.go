package batch_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/mock"
)

// Progress and bad-line reports both go to Config.Stderr, from different
// goroutines, so a plain buffer as Stderr must do: run with -race. The
// bad lines come in a long burst, during which nothing else orders the
// two writers, so that a progress tick falls inside it.
func TestRunProgressAndBadLinesShareStderr(t *testing.T) {
	srv := e2eMock(t, mock.Config{Latency: mock.FixedLatency(4 * time.Millisecond), Seed: 41})
	dir := t.TempDir()
	var b strings.Builder
	const good, bad = 40, 30000
	b.WriteString(strings.Repeat("{not json\n", bad))
	for i := range good {
		fmt.Fprintf(&b, `{"id": "p%d", "url": "/p/%d"}`+"\n", i, i)
	}
	in := e2eWrite(t, dir, "in.jsonl", b.String())
	begin := time.Now()
	o := e2eRun(t, batch.Config{Input: in, BaseURL: srv.URL(), Progress: "bar", Limits: sluice.Limits{Concurrency: 2, FixedConcurrency: true}})
	t.Logf("took %v", time.Since(begin))
	if o.code != 1 || o.sum.Succeeded != good || o.sum.BadLines != bad {
		t.Errorf("exit %d (%v), %d succeeded, %d bad; want 1, %d, %d", o.code, o.err, o.sum.Succeeded, o.sum.BadLines, good, bad)
	}
	if got := strings.Count(o.stderr, "invalid JSON"); got != bad {
		t.Errorf("%d bad lines reported, want %d", got, bad)
	}
}
