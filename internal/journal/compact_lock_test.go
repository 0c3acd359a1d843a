package journal

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/input"
)

// Compact swapped the results file under the sync lock while holding the
// journal's lock, the opposite order of the fsync pass: a sync running at
// that moment deadlocked both, and sluice run never exited (found in
// review, twice in 60 runs).
func TestCompactDoesNotDeadlockWithTheSyncLoop(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "out.jsonl")
	if err := os.WriteFile(results, []byte(`{"id":"a","v":1}`+"\n"+`{"id":"a","v":2}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := Open(Options{ResultsPath: results, ErrorsPath: filepath.Join(dir, "out.errors.jsonl")}, input.ValidLineID)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	syncing := make(chan struct{})
	go func() {
		defer close(syncing)
		for {
			select {
			case <-stop:
				return
			default:
				j.syncPending(true)
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		for range 300 {
			j.mu.Lock()
			j.repeats = 1 // something to compact every time
			j.mu.Unlock()
			if _, _, err := j.Compact(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Compact and the fsync pass deadlocked") // the journal is left locked up: no Close

	}
	close(stop)
	<-syncing
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}
