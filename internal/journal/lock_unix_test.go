//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package journal

import (
	"errors"
	"testing"

	"github.com/sluicehq/sluice/internal/input"
)

// TestJournalInUse: two runs on one results file would duplicate results.
func TestJournalInUse(t *testing.T) {
	opts := journalPaths(t)
	j := openJournal(t, opts)
	succeed(t, j, `{"id":"a"}`)
	for _, restart := range []bool{false, true} {
		o := opts
		o.Restart = restart
		if j2, err := Open(o, input.ValidLineID); !errors.Is(err, ErrInUse) {
			if j2 != nil {
				j2.Close()
			}
			t.Errorf("second Open (restart %v) = %v; want ErrInUse", restart, err)
		}
	}
	if got, want := readFile(t, opts.ResultsPath), "{\"id\":\"a\"}\n"; got != want {
		t.Errorf("results file after a refused second open = %q; want %q", got, want)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2 := openJournal(t, opts) // the lock went with Close
	if got := j2.Resumed(); got != 1 {
		t.Errorf("Resumed() = %d; want 1", got)
	}
}
