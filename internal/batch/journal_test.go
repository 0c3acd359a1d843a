package batch

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
func journalPaths(t *testing.T) JournalOptions {
	t.Helper()
	dir := t.TempDir()
	return JournalOptions{
		ResultsPath: filepath.Join(dir, "in.results.jsonl"),
		ErrorsPath:  filepath.Join(dir, "in.errors.jsonl"),
	}
}

func openJournal(t *testing.T, opts JournalOptions) *Journal {
	t.Helper()
	j, err := OpenJournal(opts, nil)
	if err != nil {
		t.Fatalf("OpenJournal: %v", err)
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

func succeed(t *testing.T, j *Journal, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if err := j.Succeeded([]byte(l)); err != nil {
			t.Fatalf("Succeeded(%s): %v", l, err)
		}
	}
}

func TestJournalResumes(t *testing.T) {
	opts := journalPaths(t)
	j := openJournal(t, opts)
	if got := j.Resumed(); got != 0 {
		t.Errorf("first open: Resumed() = %d; want 0", got)
	}
	succeed(t, j, `{"id":"a"}`, `{"id":2}`, `{"custom_id":"c","id":"batch_req_1"}`)
	if err := j.Failed([]byte(`{"id":"f","class":"fatal-item","status":400}`)); err != nil {
		t.Fatalf("Failed: %v", err)
	}
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
		if got := readFile(t, p); got != "" {
			t.Errorf("restart: %s = %q; want it emptied", filepath.Base(p), got)
		}
	}
}

func TestJournalSucceededRefuses(t *testing.T) {
	opts := journalPaths(t)
	opts.MaxLine = 32
	j := openJournal(t, opts)
	succeed(t, j, `{"id":"a"}`)
	tests := []struct {
		name    string
		line    string
		wantErr string
		wantIs  error
	}{
		{"empty", ``, "empty line", nil},
		{"newline", "{\"id\":\"b\"}\n", "newline", nil},
		{"not JSON", `{"id":"b"`, "not valid JSON", nil},
		{"no id", `{"status":200}`, "no id", nil},
		{"too long", `{"id":"b","pad":"` + strings.Repeat("x", 20) + `"}`, "over the 32-byte limit", nil},
		{"already succeeded", `{"id":"a","again":true}`, `id "a": already succeeded`, ErrAlreadySucceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := j.Succeeded([]byte(tt.line))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "batch: ") {
				t.Errorf("Succeeded(%q) = %v; want an error with %q", tt.line, err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Succeeded(%q) = %v; want errors.Is %v", tt.line, err, tt.wantIs)
			}
		})
	}
	// A refused line leaves no trace, and the journal still works.
	succeed(t, j, `{"id":"b"}`)
	if got, want := readFile(t, opts.ResultsPath), "{\"id\":\"a\"}\n{\"id\":\"b\"}\n"; got != want {
		t.Errorf("results file = %q; want %q", got, want)
	}
	for _, line := range []string{"", "a\nb"} {
		if err := j.Failed([]byte(line)); err == nil {
			t.Errorf("Failed(%q) = nil; want an error", line)
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
	j, err := OpenJournal(opts, firstField)
	if err != nil {
		t.Fatal(err)
	}
	succeed(t, j, `["x","y"]`)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, err = OpenJournal(opts, firstField)
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
	if err := j.Succeeded([]byte(`{"id":"b"}`)); !errors.Is(err, ErrJournalClosed) {
		t.Errorf("Succeeded after Close = %v; want ErrJournalClosed", err)
	}
	if err := j.Failed([]byte(`{"id":"b"}`)); !errors.Is(err, ErrJournalClosed) {
		t.Errorf("Failed after Close = %v; want ErrJournalClosed", err)
	}
	if err := j.Sync(); !errors.Is(err, ErrJournalClosed) {
		t.Errorf("Sync after Close = %v; want ErrJournalClosed", err)
	}
}

func TestJournalNeedsTwoFiles(t *testing.T) {
	opts := journalPaths(t)
	for _, o := range []JournalOptions{
		{ResultsPath: opts.ResultsPath},
		{ErrorsPath: opts.ErrorsPath},
		{ResultsPath: opts.ResultsPath, ErrorsPath: opts.ResultsPath},
		{ResultsPath: opts.ResultsPath, ErrorsPath: filepath.Join(filepath.Dir(opts.ResultsPath), ".", filepath.Base(opts.ResultsPath))},
	} {
		if j, err := OpenJournal(o, nil); err == nil {
			j.Close()
			t.Errorf("OpenJournal(%+v) = nil error; want one", o)
		}
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

	err = j.Succeeded([]byte(`{"id":"b"}`))
	if err == nil || !strings.HasPrefix(err.Error(), "batch: "+opts.ResultsPath+": ") {
		t.Fatalf("Succeeded on a failing file = %v; want an error naming the file", err)
	}
	if j.Done().Has("b") {
		t.Errorf("Done().Has(b) after a failed write = true; want false")
	}
	if err2 := j.Failed([]byte(`{"id":"c"}`)); !errors.Is(err2, errors.Unwrap(err)) {
		t.Errorf("Failed after a failed write = %v; want the first error %v", err2, err)
	}
	if err2 := j.Close(); err2 == nil {
		t.Errorf("Close after a failed write = nil; want the first error")
	}
}

// TestJournalConcurrentAppends: 32 goroutines append 10,240 lines, some
// longer than a page; every line must come out whole and once.
func TestJournalConcurrentAppends(t *testing.T) {
	const goroutines, perGoroutine = 32, 320
	opts := journalPaths(t)
	j := openJournal(t, opts)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				if err := j.Succeeded(concurrentLine(g, i)); err != nil {
					t.Errorf("Succeeded: %v", err)
					return
				}
				if i%10 == 0 {
					if err := j.Failed([]byte(fmt.Sprintf(`{"id":"g%d-%d"}`, g, i))); err != nil {
						t.Errorf("Failed: %v", err)
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
		if err := j.Failed([]byte(`{"id":"c"}`)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := j.syncs.Load(); got != 2 {
			t.Errorf("syncs a second after a Failed = %d; want 2", got)
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
