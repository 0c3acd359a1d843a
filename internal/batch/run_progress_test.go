package batch_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

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

// The progress line on a terminal is redrawn in place and never wraps
// (it was a new line every 250 ms at 80 columns), and a Retry-After
// pause shows as one rather than as an ETA of 0s. Stderr is not a
// terminal here, so the line is fitted to 80 columns.
func TestRunProgressLineFitsAndShowsThePause(t *testing.T) {
	var first atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		time.Sleep(5 * time.Millisecond)
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	ids := e2eNames("b", 40)
	o := e2eRun(t, batch.Config{Input: e2eHTTPFile(t, t.TempDir(), ids), BaseURL: srv.URL, Progress: "bar", Limits: sluice.Limits{Concurrency: 2, FixedConcurrency: true}})
	if o.code != 0 || o.sum.Succeeded != len(ids) {
		t.Fatalf("exit %d (%v), %d succeeded; want 0, %d", o.code, o.err, o.sum.Succeeded, len(ids))
	}
	// The run's start line comes first, once; then only the progress line,
	// redrawn in place.
	start, progress, ok := strings.Cut(o.stderr, "\n")
	if !ok || !strings.HasPrefix(start, "sluice: ") {
		t.Fatalf("stderr does not begin with the start line:\n%q", o.stderr)
	}
	if strings.Contains(progress, "\n") {
		t.Errorf("the progress line wrote a newline: it scrolls instead of staying in place:\n%q", progress)
	}
	paused := 0
	for _, line := range strings.Split(progress, "\r") {
		line = strings.TrimSuffix(line, "\x1b[K")
		if n := utf8.RuneCountInString(line); n >= 80 {
			t.Errorf("a %d-column line wraps an 80-column terminal: %q", n, line)
		}
		if strings.Contains(line, "paused") {
			paused++
			if !strings.Contains(line, "s (API asked)") {
				t.Errorf("pause shown as %q; want how long and why", line)
			}
		}
	}
	if paused == 0 {
		t.Errorf("no line showed the 2s pause the API asked for:\n%q", o.stderr)
	}
}
