package batch_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

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
