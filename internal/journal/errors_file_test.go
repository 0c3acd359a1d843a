package journal

import (
	"errors"
	"os"
	"testing"
)

// readFileIfAny is readFile, with "" for a file that does not exist.
func readFileIfAny(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestJournalNoEmptyErrorsFile protects issue 10, item 8: a run where
// nothing failed leaves no errors file, neither a new empty one nor the
// last run's emptied one; a run with failures has one.
func TestJournalNoEmptyErrorsFile(t *testing.T) {
	opts := journalPaths(t)

	j := openJournal(t, opts)
	succeed(t, j, `{"id":"a"}`)
	if exists(opts.ErrorsPath) {
		t.Errorf("after a success: the errors file exists; want none until a failure")
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if exists(opts.ErrorsPath) {
		t.Errorf("after a run without failures: the errors file exists; want none")
	}

	j = openJournal(t, opts)
	if err := j.QueueFailed([]byte(`{"id":"b"}`)); err != nil {
		t.Fatal(err)
	}
	if _, errs, err := j.Flush(); errs != 1 || err != nil {
		t.Fatalf("Flush = %d errors lines, %v; want 1, nil", errs, err)
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := readFileIfAny(t, opts.ErrorsPath), "{\"id\":\"b\"}\n"; got != want {
		t.Errorf("after a failure: errors file %q; want %q", got, want)
	}

	// The next run empties it at Open, and removes it when nothing failed.
	j = openJournal(t, opts)
	if got := readFile(t, opts.ErrorsPath); got != "" {
		t.Errorf("reopened: errors file %q; want it emptied", got)
	}
	succeed(t, j, `{"id":"b"}`)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if exists(opts.ErrorsPath) {
		t.Errorf("after a rerun without failures: the earlier errors file is still there; want it removed")
	}
}

// TestJournalErrorsFileCreatedLaterIsStillLocked: a second journal on the
// same errors file (two results files sharing one errors path) cannot
// write into the file the first created lazily.
func TestJournalErrorsFileCreatedLaterIsStillLocked(t *testing.T) {
	opts := journalPaths(t)
	j := openJournal(t, opts)
	if err := j.QueueFailed([]byte(`{"id":"b"}`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	other := opts
	other.ResultsPath += ".other"
	if j2, err := Open(other, func([]byte) (string, bool) { return "", false }); !errors.Is(err, ErrInUse) {
		if j2 != nil {
			j2.Close()
		}
		t.Errorf("Open of another results file with the same errors file: %v; want ErrInUse", err)
	}
	j.Close()
}
