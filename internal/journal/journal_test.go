package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/input"
)

// journalPaths returns a results and an errors path in a fresh directory.
func journalPaths(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	return Options{
		ResultsPath: filepath.Join(dir, "in.results.jsonl"),
		ErrorsPath:  filepath.Join(dir, "in.errors.jsonl"),
	}
}

func openJournal(t *testing.T, opts Options) *Journal {
	t.Helper()
	j, err := Open(opts, input.ValidLineID)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// succeed writes each line as the runner does: QueueSucceeded with the id
// the line holds, then a Flush that must report it written.
func succeed(t *testing.T, j *Journal, lines ...string) {
	t.Helper()
	for _, l := range lines {
		id, ok := input.LineID([]byte(l))
		if !ok {
			t.Fatalf("succeed(%s): the line has no id", l)
		}
		if err := j.QueueSucceeded(id, []byte(l)); err != nil {
			t.Fatalf("QueueSucceeded(%q, %s): %v", id, l, err)
		}
		if results, errs, err := j.Flush(); err != nil || results != 1 || errs != 0 {
			t.Fatalf("Flush after QueueSucceeded(%s) = %d, %d, %v; want 1, 0, nil", l, results, errs, err)
		}
	}
}

// fail writes an errors line as the runner does: QueueFailed, then a Flush
// that must report it written.
func fail(t *testing.T, j *Journal, line string) {
	t.Helper()
	if err := j.QueueFailed([]byte(line)); err != nil {
		t.Fatalf("QueueFailed(%s): %v", line, err)
	}
	if results, errs, err := j.Flush(); err != nil || results != 0 || errs != 1 {
		t.Fatalf("Flush after QueueFailed(%s) = %d, %d, %v; want 0, 1, nil", line, results, errs, err)
	}
}

func TestJournalResumes(t *testing.T) {
	opts := journalPaths(t)
	j := openJournal(t, opts)
	if got := j.Resumed(); got != 0 {
		t.Errorf("first open: Resumed() = %d; want 0", got)
	}
	succeed(t, j, `{"id":"a"}`, `{"id":2}`, `{"custom_id":"c","id":"batch_req_1"}`)
	fail(t, j, `{"id":"f","class":"fatal-item","status":400}`)
	if got, want := j.Done().Len(), 3; got != want {
		t.Errorf("Done().Len() before reopening = %d; want %d", got, want)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got, want := readFile(t, opts.ErrorsPath), `{"id":"f","class":"fatal-item","status":400}`+"\n"; got != want {
		t.Errorf("errors file = %q; want %q", got, want)
	}

	j = openJournal(t, opts)
	if got, want := j.Resumed(), 3; got != want {
		t.Errorf("reopened: Resumed() = %d; want %d", got, want)
	}
	for _, id := range []string{"a", "2", "c"} {
		if !j.Done().Has(id) {
			t.Errorf("reopened: Done().Has(%q) = false; want true", id)
		}
	}
	for _, id := range []string{"f", "batch_req_1"} {
		if j.Done().Has(id) {
			t.Errorf("reopened: Done().Has(%q) = true; want false", id)
		}
	}
	if got := readFile(t, opts.ErrorsPath); got != "" {
		t.Errorf("reopened: errors file = %q; want it emptied", got)
	}
	succeed(t, j, `{"id":"f"}`)
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got, want := readFile(t, opts.ResultsPath), "{\"id\":\"a\"}\n{\"id\":2}\n{\"custom_id\":\"c\",\"id\":\"batch_req_1\"}\n{\"id\":\"f\"}\n"; got != want {
		t.Errorf("results file = %q; want %q", got, want)
	}

	opts.Restart = true
	j = openJournal(t, opts)
	if got := j.Resumed(); got != 0 {
		t.Errorf("restart: Resumed() = %d; want 0", got)
	}
	if got := j.Done().Len(); got != 0 {
		t.Errorf("restart: Done().Len() = %d; want 0", got)
	}
	for _, p := range []string{opts.ResultsPath, opts.ErrorsPath} {
		if got := readFileIfAny(t, p); got != "" {
			t.Errorf("restart: %s = %q; want it emptied", filepath.Base(p), got)
		}
	}
}

func TestJournalSucceededRefuses(t *testing.T) {
	opts := journalPaths(t)
	opts.MaxLine = 32
	j := openJournal(t, opts)
	succeed(t, j, `{"id":"a"}`)
	// q is queued and not yet written: queueing it again is refused too.
	if err := j.QueueSucceeded("q", []byte(`{"id":"q"}`)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		id      string
		line    string
		wantErr string
		wantIs  error
	}{
		{"empty", "b", ``, "empty line", nil},
		{"newline", "b", "{\"id\":\"b\"}\n", "newline", nil},
		{"too long", "b", `{"id":"b","pad":"` + strings.Repeat("x", 20) + `"}`, "over the 32-byte limit", nil},
		{"already succeeded", "a", `{"id":"a","again":true}`, `id "a": already succeeded`, ErrAlreadySucceeded},
		{"already queued", "q", `{"id":"q","again":true}`, `id "q": already succeeded`, ErrAlreadySucceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := j.QueueSucceeded(tt.id, []byte(tt.line))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "journal: ") {
				t.Errorf("QueueSucceeded(%q, %q) = %v; want an error with %q", tt.id, tt.line, err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("QueueSucceeded(%q, %q) = %v; want errors.Is %v", tt.id, tt.line, err, tt.wantIs)
			}
		})
	}
	// A refused line leaves no trace, and the journal still works.
	if results, _, err := j.Flush(); err != nil || results != 1 {
		t.Fatalf("Flush = %d results, %v; want 1 (q), nil", results, err)
	}
	succeed(t, j, `{"id":"b"}`)
	if got, want := readFile(t, opts.ResultsPath), "{\"id\":\"a\"}\n{\"id\":\"q\"}\n{\"id\":\"b\"}\n"; got != want {
		t.Errorf("results file = %q; want %q", got, want)
	}
	for _, line := range []string{"", "a\nb"} {
		if err := j.QueueFailed([]byte(line)); err == nil {
			t.Errorf("QueueFailed(%q) = nil; want an error", line)
		}
	}
}

func TestJournalCustomIDFunc(t *testing.T) {
	opts := journalPaths(t)
	firstField := func(line []byte) (string, bool) {
		var v []string
		if json.Unmarshal(line, &v) != nil || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	j, err := Open(opts, firstField)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.QueueSucceeded("x", []byte(`["x","y"]`)); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil { // writes the queue
		t.Fatal(err)
	}
	j, err = Open(opts, firstField)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if !j.Done().Has("x") {
		t.Errorf("Done().Has(x) = false; want true")
	}
}

func TestJournalClose(t *testing.T) {
	opts := journalPaths(t)
	j := openJournal(t, opts)
	succeed(t, j, `{"id":"a"}`)
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
	if err := j.QueueSucceeded("b", []byte(`{"id":"b"}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("QueueSucceeded after Close = %v; want ErrClosed", err)
	}
	if err := j.QueueFailed([]byte(`{"id":"b"}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("QueueFailed after Close = %v; want ErrClosed", err)
	}
	if _, _, err := j.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close = %v; want ErrClosed", err)
	}
	if err := j.Sync(); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close = %v; want ErrClosed", err)
	}
}

func TestJournalNeedsTwoFiles(t *testing.T) {
	opts := journalPaths(t)
	for _, o := range []Options{
		{ResultsPath: opts.ResultsPath},
		{ErrorsPath: opts.ErrorsPath},
		{ResultsPath: opts.ResultsPath, ErrorsPath: opts.ResultsPath},
		{ResultsPath: opts.ResultsPath, ErrorsPath: filepath.Join(filepath.Dir(opts.ResultsPath), ".", filepath.Base(opts.ResultsPath))},
	} {
		if j, err := Open(o, input.ValidLineID); err == nil {
			j.Close()
			t.Errorf("Open(%+v) = nil error; want one", o)
		}
	}
	if j, err := Open(opts, nil); err == nil {
		j.Close()
		t.Errorf("Open without an id function = nil error; want one")
	}
}

// TestJournalFailedWriteStops protects the middle of the results file: after
// a write fails, nothing more may be appended behind what it left.
func TestJournalFailedWriteStops(t *testing.T) {
	opts := journalPaths(t)
	opts.SyncEvery = time.Hour
	j := openJournal(t, opts)
	succeed(t, j, `{"id":"a"}`)
	readOnly, err := os.Open(opts.ResultsPath)
	if err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	good := j.resultsFile
	j.resultsFile = readOnly // writes now fail with EBADF
	j.mu.Unlock()
	t.Cleanup(func() { good.Close() })

	if err := j.QueueSucceeded("b", []byte(`{"id":"b"}`)); err != nil {
		t.Fatal(err)
	}
	results, errs, err := j.Flush()
	if err == nil || !strings.HasPrefix(err.Error(), "journal: "+opts.ResultsPath+": ") {
		t.Fatalf("Flush on a failing file = %v; want an error naming the file", err)
	}
	if results != 0 || errs != 0 {
		t.Errorf("Flush on a failing file reported %d results, %d errors written; want none: the runner would count them done", results, errs)
	}
	if err2 := j.QueueFailed([]byte(`{"id":"c"}`)); !errors.Is(err2, errors.Unwrap(err)) {
		t.Errorf("QueueFailed after a failed write = %v; want the first error %v", err2, err)
	}
	if err2 := j.QueueSucceeded("d", []byte(`{"id":"d"}`)); !errors.Is(err2, errors.Unwrap(err)) {
		t.Errorf("QueueSucceeded after a failed write = %v; want the first error %v", err2, err)
	}
	if _, _, err2 := j.Flush(); !errors.Is(err2, errors.Unwrap(err)) {
		t.Errorf("Flush after a failed write = %v; want the first error %v", err2, err)
	}
	if got, want := readFile(t, opts.ResultsPath), "{\"id\":\"a\"}\n"; got != want {
		t.Errorf("results file after a failed write = %q; want %q", got, want)
	}
	if err2 := j.Close(); err2 == nil {
		t.Errorf("Close after a failed write = nil; want the first error")
	}
}

// TestJournalConcurrentAppends: 32 goroutines queue and flush 10,240 lines,
// some longer than a page, as the runner's loop and its periodic flush do
// concurrently; every line must come out whole and once.
func TestJournalConcurrentAppends(t *testing.T) {
	const goroutines, perGoroutine = 32, 320
	opts := journalPaths(t)
	j := openJournal(t, opts)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				if err := j.QueueSucceeded(fmt.Sprintf("g%d-%d", g, i), concurrentLine(g, i)); err != nil {
					t.Errorf("QueueSucceeded: %v", err)
					return
				}
				if i%10 == 0 {
					if err := j.QueueFailed([]byte(fmt.Sprintf(`{"id":"g%d-%d"}`, g, i))); err != nil {
						t.Errorf("QueueFailed: %v", err)
						return
					}
				}
				if i%3 == 0 { // some Flushes write several goroutines' lines
					if _, _, err := j.Flush(); err != nil {
						t.Errorf("Flush: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(opts.ResultsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := make(map[string]bool)
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		id, ok := input.LineID(sc.Bytes())
		var g, i int
		if _, err := fmt.Sscanf(id, "g%d-%d", &g, &i); !ok || err != nil {
			t.Fatalf("line %d = %.80q…: no id of the form g%%d-%%d", n, sc.Text())
		}
		if want := string(concurrentLine(g, i)); sc.Text() != want {
			t.Fatalf("line %d = %.80q…; want %.80q…", n, sc.Text(), want)
		}
		if seen[id] {
			t.Fatalf("line %d: id %s twice", n, id)
		}
		seen[id] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := len(seen), goroutines*perGoroutine; got != want {
		t.Errorf("%d distinct lines; want %d", got, want)
	}
	if got, want := strings.Count(readFile(t, opts.ErrorsPath), "\n"), goroutines*perGoroutine/10; got != want {
		t.Errorf("errors file: %d lines; want %d", got, want)
	}
}

// concurrentLine is line i of goroutine g, padded with g's letter; one line
// in 16 is longer than a 4 KiB page, so its write spans pages.
func concurrentLine(g, i int) []byte {
	n := (i * 131) % 200
	if i%16 == 0 {
		n = 5000 + i%100
	}
	pad := bytes.Repeat([]byte{byte('a' + g%26)}, n)
	return fmt.Appendf(nil, `{"id":"g%d-%d","pad":"%s"}`, g, i, pad)
}

func TestJournalSyncEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := journalPaths(t)
		opts.SyncEvery = time.Second
		opts.SyncBatch = 1000
		j := openJournal(t, opts)
		succeed(t, j, `{"id":"a"}`)
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		if got := j.syncs.Load(); got != 0 {
			t.Errorf("syncs after 999ms = %d; want 0", got)
		}
		succeed(t, j, `{"id":"b"}`) // does not push the deadline back
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := j.syncs.Load(); got != 1 {
			t.Errorf("syncs after 1s = %d; want 1", got)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := j.syncs.Load(); got != 1 {
			t.Errorf("syncs after a minute with nothing pending = %d; want 1", got)
		}
		fail(t, j, `{"id":"c"}`)
		time.Sleep(time.Second)
		synctest.Wait()
		if got := j.syncs.Load(); got != 2 {
			t.Errorf("syncs a second after an errors line = %d; want 2", got)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestJournalSyncBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := journalPaths(t)
		opts.SyncEvery = time.Hour
		opts.SyncBatch = 3
		j := openJournal(t, opts)
		succeed(t, j, `{"id":"a"}`, `{"id":"b"}`)
		synctest.Wait()
		if got := j.syncs.Load(); got != 0 {
			t.Errorf("syncs after 2 appends = %d; want 0", got)
		}
		succeed(t, j, `{"id":"c"}`)
		synctest.Wait()
		if got := j.syncs.Load(); got != 1 {
			t.Errorf("syncs after 3 appends = %d; want 1", got)
		}
		if err := j.Sync(); err != nil {
			t.Fatal(err)
		}
		if got := j.syncs.Load(); got != 2 {
			t.Errorf("syncs after Sync = %d; want 2", got)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
