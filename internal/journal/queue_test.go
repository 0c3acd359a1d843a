package journal

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestJournalQueueWritesOnFlush(t *testing.T) {
	opts := journalPaths(t)
	j := openJournal(t, opts)
	for _, id := range []string{"a", "b"} {
		if err := j.QueueSucceeded(id, []byte(`{"id":"`+id+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.QueueFailed([]byte(`{"id":"c","error":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, opts.ResultsPath) + readFileIfAny(t, opts.ErrorsPath); got != "" {
		t.Fatalf("before Flush the files hold %q; want nothing", got)
	}
	if lines, size := j.Queued(); lines != 3 || size != len("{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\",\"error\":\"x\"}\n") {
		t.Errorf("Queued() = %d lines, %d bytes; want 3 lines, the bytes with their newlines", lines, size)
	}
	if err := j.QueueSucceeded("a", []byte(`{"id":"a"}`)); !errors.Is(err, ErrAlreadySucceeded) {
		t.Errorf("queueing a again: %v; want ErrAlreadySucceeded", err)
	}
	results, errs, err := j.Flush()
	if err != nil || results != 2 || errs != 1 {
		t.Fatalf("Flush = %d, %d, %v; want 2, 1, nil", results, errs, err)
	}
	if got, want := readFile(t, opts.ResultsPath), "{\"id\":\"a\"}\n{\"id\":\"b\"}\n"; got != want {
		t.Errorf("results file %q; want %q", got, want)
	}
	if got, want := readFile(t, opts.ErrorsPath), "{\"id\":\"c\",\"error\":\"x\"}\n"; got != want {
		t.Errorf("errors file %q; want %q", got, want)
	}
	if results, errs, err := j.Flush(); results != 0 || errs != 0 || err != nil {
		t.Errorf("second Flush = %d, %d, %v; want nothing written", results, errs, err)
	}
}

func TestJournalCloseWritesTheQueue(t *testing.T) {
	opts := journalPaths(t)
	j := openJournal(t, opts)
	if err := j.QueueSucceeded("a", []byte(`{"id":"a"}`)); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openJournal(t, opts)
	if !j.Done().Has("a") || j.Resumed() != 1 {
		t.Errorf("after Close and reopening: a done %v, %d resumed; want true, 1", j.Done().Has("a"), j.Resumed())
	}
}

// TestJournalFlushedLinesGetSynced protects the sync loop's timer: a Flush
// takes the pending count from 0 to many at once, and must still arm it.
func TestJournalFlushedLinesGetSynced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := journalPaths(t)
		opts.SyncEvery = time.Second
		opts.SyncBatch = 1000
		j := openJournal(t, opts)
		for _, id := range []string{"a", "b", "c"} {
			if err := j.QueueSucceeded(id, []byte(`{"id":"`+id+`"}`)); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := j.Flush(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := j.syncs.Load(); got != 1 {
			t.Errorf("syncs a second after flushing 3 lines = %d; want 1", got)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
