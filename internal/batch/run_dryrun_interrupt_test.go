package batch_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/batch"
)

// endlessLine is three URL lines, then one line with no end: it cancels
// the run once well into it, and ends (io.EOF) only after 64 MiB, so that a
// reader deaf to the interrupt still returns.
type endlessLine struct {
	head   *strings.Reader
	read   int
	cancel context.CancelFunc
}

func (e *endlessLine) Read(p []byte) (int, error) {
	if e.head.Len() > 0 {
		return e.head.Read(p)
	}
	if e.read >= 64<<20 {
		return 0, io.EOF
	}
	if e.read >= 16<<20 {
		e.cancel()
	}
	for i := range p {
		p[i] = 'a'
	}
	e.read += len(p)
	return len(p), nil
}

// An interrupted dry run stops (exit 3) and says its plan is incomplete,
// also in the middle of a line that never ends (an outside review: it
// printed the lines read so far as the plan, exit 0, and /dev/zero ran on
// through every interrupt).
func TestRunDryRunInterruptedSaysItsPlanIsIncomplete(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in := &endlessLine{head: strings.NewReader("http://127.0.0.1:9/a\nhttp://127.0.0.1:9/b\nhttp://127.0.0.1:9/c\n"), cancel: cancel}
	o := e2eRunCtx(t, ctx, batch.Config{Input: "-", Stdin: in, Format: "urls", DryRun: true})
	if o.code != 3 || o.err == nil || !strings.Contains(o.err.Error(), "incomplete") {
		t.Errorf("exit %d, %v; want 3 and an error saying the plan is incomplete\nstdout:\n%s\nstderr:\n%s", o.code, o.err, o.stdout, o.stderr)
	}
	if strings.Contains(o.stdout, "items to run") {
		t.Errorf("an interrupted dry run printed a plan:\n%s", o.stdout)
	}
	if in.read >= 64<<20 {
		t.Errorf("the reader read the whole endless line (%d bytes) through the interrupt", in.read)
	}
}
