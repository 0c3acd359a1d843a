package batch_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/mock"
	"github.com/sluicehq/sluice/internal/table"
	"github.com/sluicehq/sluice/internal/table/tabletest"
)

// TestRunIntoPostgresIDWithNULIsABadLine: an id holding a NUL, which
// PostgreSQL text cannot store, is a bad line found as the item is read:
// never sent, named with its line in stderr and the errors table, shown by
// --dry-run; the other items all run, and the run succeeds with bad lines
// (exit 1), every time, rather than stopping at the write (exit 3).
func TestRunIntoPostgresIDWithNULIsABadLine(t *testing.T) {
	dest := tabletest.Postgres(t)
	srv := e2eMock(t, mock.Config{})
	dir := t.TempDir()
	var lines strings.Builder
	const n = 40
	for i := range n {
		id := fmt.Sprintf("i%02d", i)
		if i == 9 {
			id = `bad\u0000id`
		}
		fmt.Fprintf(&lines, `{"id": "%s", "url": "/item/%d"}`+"\n", id, i)
	}
	in := e2eWrite(t, dir, "in.jsonl", lines.String())
	cfg := batch.Config{Input: in, Out: dest, BaseURL: srv.URL()}

	dry := cfg
	dry.DryRun = true
	d := e2eRun(t, dry)
	if d.sum.BadLines != 1 || !strings.Contains(d.stderr, "line 10: id holds a NUL, which PostgreSQL cannot store") {
		t.Errorf("--dry-run: %d bad lines, stderr %q; want 1, naming line 10", d.sum.BadLines, d.stderr)
	}
	for run := 1; run <= 2; run++ {
		out := e2eRun(t, cfg)
		if out.code != 1 || out.sum.Stopped != nil || out.sum.BadLines != 1 {
			t.Fatalf("run %d: exit %d, stopped %v, %d bad lines; want 1, not stopped, 1\n%s", run, out.code, out.sum.Stopped, out.sum.BadLines, out.stderr)
		}
		if want := n - 1; out.sum.Succeeded+out.sum.Resumed != want {
			t.Errorf("run %d: %d succeeded + %d skipped, want %d", run, out.sum.Succeeded, out.sum.Resumed, want)
		}
		got := tableQuery(t, dest, "SELECT line, class, message, id FROM sluice_results_errors")
		if fmt.Sprint(got) != fmt.Sprint([][]string{{"10", "bad_line", "id holds a NUL, which PostgreSQL cannot store", "bad\uFFFDid"}}) {
			t.Errorf("run %d: errors table %q", run, got)
		}
	}
	if r := srv.Stats().Requests; r != n-1 {
		t.Errorf("the API got %d requests, want %d: the bad id must never be sent", r, n-1)
	}
}

// TestRunIntoSQLiteTableInUseSendsNothing: a second run into a SQLite
// table another run holds is refused before anything is sent (exit 2,
// "in use by another run"), as JSONL and PostgreSQL are, rather than
// sending duplicates until one run dies at the primary key.
func TestRunIntoSQLiteTableInUseSendsNothing(t *testing.T) {
	srv := e2eMock(t, mock.Config{})
	dir := t.TempDir()
	path := filepath.Join(dir, "two.db")
	held, err := table.Open(context.Background(), table.Options{Dest: "sqlite:" + path})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	in := e2eWrite(t, dir, "in.jsonl", `{"id": "a", "url": "/a"}`+"\n")
	out := e2eRun(t, batch.Config{Input: in, Out: "sqlite:" + path, BaseURL: srv.URL()})
	if out.code != 2 || out.err == nil || !strings.Contains(out.err.Error(), path+" table sluice_results: in use by another run") {
		t.Errorf("exit %d, %v; want 2, the table in use by another run", out.code, out.err)
	}
	if n := srv.Stats().Requests; n != 0 {
		t.Errorf("the API got %d requests; want none", n)
	}
}

// TestRunStoppedByTheDatabaseCountsEveryItem: a run stopped by a failed
// write (another program holds SQLite's write lock past the busy timeout)
// counts the rest of the input, as an interrupted one does: succeeded +
// failed + bad + skipped + not finished is the input's items.
func TestRunStoppedByTheDatabaseCountsEveryItem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "answers.db")
	dest := "sqlite:" + path + "?_pragma=busy_timeout(50)"
	srv := e2eMock(t, mock.Config{Latency: mock.FixedLatency(5 * time.Millisecond)})
	dir := t.TempDir()
	var lines strings.Builder
	const n = 2000
	for i := range n {
		fmt.Fprintf(&lines, `{"id": "i%04d", "url": "/item/i%04d"}`+"\n", i, i)
	}
	in := e2eWrite(t, dir, "in.jsonl", lines.String())
	cfg := batch.Config{Input: in, Out: dest, BaseURL: srv.URL(), Limits: sluice.Limits{Concurrency: 4, FixedConcurrency: true}}
	done := make(chan e2eOutcome, 1)
	go func() { done <- e2eRun(t, cfg) }()

	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no rows written")
		}
		var k int
		if db.QueryRow("SELECT count(*) FROM sluice_results").Scan(&k) == nil && k >= 20 {
			break
		}
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	out := <-done
	conn.ExecContext(context.Background(), "ROLLBACK")
	conn.Close()
	s := out.sum
	if out.code != 3 || s.Stopped == nil {
		t.Fatalf("exit %d, stopped %v; want 3, stopped\n%s", out.code, s.Stopped, out.stderr)
	}
	if s.Succeeded >= n {
		t.Fatalf("all %d items finished before the lock: nothing tested", n)
	}
	if sum := s.Succeeded + s.Failed + s.BadLines + s.Resumed + s.NotStarted; sum != n {
		t.Errorf("%d succeeded + %d failed + %d bad + %d skipped + %d not finished = %d, want the input's %d", s.Succeeded, s.Failed, s.BadLines, s.Resumed, s.NotStarted, sum, n)
	}
	if s.Items != n {
		t.Errorf("Items = %d, want %d", s.Items, n)
	}
}
