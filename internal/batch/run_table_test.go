package batch_test

// sluice run into a database (-o sqlite:PATH, -o postgres://...): the
// answer beside its input, bad destinations refused before anything is
// sent, and a database failing mid-run stopping the run with what was
// written kept.

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/mock"
	"github.com/sluicehq/sluice/internal/table/tabletest"
)

// tableQuery returns q's rows at dest, each value as text.
func tableQuery(t *testing.T, dest, q string) [][]string {
	t.Helper()
	var out [][]string
	if path, ok := strings.CutPrefix(dest, "sqlite:"); ok {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			row := make([]string, len(cols))
			for i, v := range vals {
				row[i] = v.String
			}
			out = append(out, row)
		}
		return out
	}
	conn, err := pgx.Connect(context.Background(), dest)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), q, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		var row []string
		for _, v := range rows.RawValues() {
			row = append(row, string(v))
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// TestRunIntoTablePutsTheAnswerBesideItsInput: a csv's rows go to the
// API and their answers into the table, each beside the row's other
// columns and its request; a rerun resumes from the table.
func TestRunIntoTablePutsTheAnswerBesideItsInput(t *testing.T) {
	for _, b := range []struct {
		name string
		dest func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "answers.db") }},
		{"postgres", func(t *testing.T) string { return tabletest.Postgres(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			srv := e2eMock(t, mock.Config{})
			dir := t.TempDir()
			in := e2eWrite(t, dir, "texts.csv", "id,title,text\nr1,First,hello\nr2,Second,\"how are, you\"\n")
			dest := b.dest(t)
			cfg := batch.Config{Input: in, Out: dest, Table: "answers", BaseURL: srv.URL(), Template: `{"prompt":{{json .text}}}`, URL: "/v1/ask"}
			out := e2eRun(t, cfg)
			if out.code != 0 || out.sum.Succeeded != 2 {
				t.Fatalf("exit %d, %d succeeded (%v)\n%s", out.code, out.sum.Succeeded, out.err, out.stderr)
			}
			if !strings.Contains(out.sum.Results, "table answers of ") || strings.Contains(out.sum.Results, "://") && strings.Contains(out.sum.Results, "password") {
				t.Errorf("Summary.Results = %q", out.sum.Results)
			}
			got := tableQuery(t, dest, "SELECT id, metadata->>'title', request, response->'body'->>'prompt', status FROM answers ORDER BY id")
			want := [][]string{{"r1", "First", `{"prompt":"hello"}`, "hello", "200"}, {"r2", "Second", `{"prompt":"how are, you"}`, "how are, you", "200"}}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("rows:\n got %q\nwant %q", got, want)
			}
			again := e2eRun(t, cfg)
			if again.code != 0 || again.sum.Resumed != 2 || again.sum.Succeeded != 0 {
				t.Errorf("rerun: exit %d, %d resumed, %d succeeded; want 0, 2, 0", again.code, again.sum.Resumed, again.sum.Succeeded)
			}
			if n := srv.Stats().Requests; n != 2 {
				t.Errorf("the API got %d requests over both runs, want 2", n)
			}
		})
	}
}

// TestRunIntoTableBadDestinationSendsNothing: a database that cannot be
// reached, or a table that cannot take the rows, is a usage error (exit 2)
// before any request.
func TestRunIntoTableBadDestinationSendsNothing(t *testing.T) {
	srv := e2eMock(t, mock.Config{})
	dir := t.TempDir()
	in := e2eWrite(t, dir, "in.jsonl", `{"id": "a", "url": "/a"}`+"\n")
	wrong := "sqlite:" + filepath.Join(dir, "wrong.db")
	tableQuery(t, wrong, "CREATE TABLE sluice_results (id text PRIMARY KEY, answer text)")
	for _, c := range []struct {
		out, table, want string
	}{
		{"sqlite:" + filepath.Join(dir, "no", "such", "dir.db"), "", "cannot reach the database"},
		{"postgres://postgres@127.0.0.1:1/test?sslmode=disable", "", "cannot reach the database"},
		{wrong, "", "table sluice_results has no column line"},
		{"sqlite:" + filepath.Join(dir, "ok.db"), "Bad-Name", "--table"},
		{filepath.Join(dir, "out.jsonl"), "answers", "--table answers: tables are for"},
	} {
		out := e2eRun(t, batch.Config{Input: in, Out: c.out, Table: c.table, BaseURL: srv.URL()})
		if out.code != 2 || out.err == nil || !strings.Contains(out.err.Error(), c.want) {
			t.Errorf("-o %s --table %q: exit %d, %v; want 2 saying %q", c.out, c.table, out.code, out.err, c.want)
		}
	}
	if n := srv.Stats().Requests; n != 0 {
		t.Errorf("the API got %d requests; want none", n)
	}
}

// TestRunIntoTableStopsWhenTheDatabaseFails: PostgreSQL ends the run's
// connection mid-run (pg_terminate_backend, as a restart would): the run
// stops admitting, exits 3 saying why, and every item it counted as
// succeeded is in the table; the next run finishes the rest, each id once.
func TestRunIntoTableStopsWhenTheDatabaseFails(t *testing.T) {
	dest := tabletest.Postgres(t)
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
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no rows written")
		}
		if tableQuery(t, dest, "SELECT to_regclass('sluice_results') IS NOT NULL")[0][0] != "t" {
			continue // not made yet
		}
		if k, _ := strconv.Atoi(tableQuery(t, dest, "SELECT count(*) FROM sluice_results")[0][0]); k >= 50 {
			break
		}
	}
	tabletest.Terminate(t, dest)
	out := <-done
	if out.code != 3 || out.sum.Stopped == nil || !strings.Contains(out.sum.Stopped.Error(), "writing results") {
		t.Fatalf("exit %d, stopped: %v; want 3, stopped writing results\n%s", out.code, out.sum.Stopped, out.stderr)
	}
	stored := tableQuery(t, dest, "SELECT count(*) FROM sluice_results")[0][0]
	if stored != fmt.Sprint(out.sum.Succeeded) {
		t.Errorf("the run counted %d succeeded, the table holds %s", out.sum.Succeeded, stored)
	}
	if out.sum.Succeeded >= n {
		t.Fatalf("all %d items finished before the connection ended: nothing tested", n)
	}
	rest := e2eRun(t, cfg)
	if rest.code != 0 || rest.sum.Resumed != out.sum.Succeeded || rest.sum.Succeeded != n-out.sum.Succeeded {
		t.Errorf("next run: exit %d, %d resumed, %d succeeded; want 0, %d, %d", rest.code, rest.sum.Resumed, rest.sum.Succeeded, out.sum.Succeeded, n-out.sum.Succeeded)
	}
	if got := tableQuery(t, dest, "SELECT count(DISTINCT id), count(*), count(*) FILTER (WHERE response->>'path' = '/item/' || id) FROM sluice_results")[0]; fmt.Sprint(got) != fmt.Sprint([]string{"2000", "2000", "2000"}) {
		t.Errorf("distinct ids, rows, rows answering their own id = %v; want 2000 each", got)
	}
}

// TestRunIntoSQLiteStopsWhenTheDatabaseIsLocked: another program takes
// SQLite's write lock mid-run and keeps it past the busy timeout the path
// gives: the run stops (exit 3) saying why, its counts add up to the
// input, every item it counted is in the table, and the next run
// finishes the rest, each id once.
func TestRunIntoSQLiteStopsWhenTheDatabaseIsLocked(t *testing.T) {
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
		if db.QueryRow("SELECT count(*) FROM sluice_results").Scan(&k) == nil && k >= 50 {
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
	if out.code != 3 || out.sum.Stopped == nil || !strings.Contains(out.sum.Stopped.Error(), "locked") {
		t.Fatalf("exit %d, stopped: %v; want 3, stopped saying the database is locked\n%s", out.code, out.sum.Stopped, out.stderr)
	}
	// A run stopped by a failed write counts the rest of the input, as an
	// interrupted one does (it counted 72 of 2000 before: found in review).
	s := out.sum
	if sum := s.Succeeded + s.Failed + s.BadLines + s.Resumed + s.NotStarted; sum != n || s.Items != n {
		t.Errorf("%d succeeded + %d failed + %d bad + %d skipped + %d not finished = %d, Items %d; want the input's %d", s.Succeeded, s.Failed, s.BadLines, s.Resumed, s.NotStarted, sum, s.Items, n)
	}
	var stored int
	if err := db.QueryRow("SELECT count(*) FROM sluice_results").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != out.sum.Succeeded || stored >= n {
		t.Errorf("the run counted %d succeeded, the table holds %d (of %d)", out.sum.Succeeded, stored, n)
	}
	rest := e2eRun(t, cfg)
	if rest.code != 0 || rest.sum.Resumed != stored || rest.sum.Succeeded != n-stored {
		t.Errorf("next run: exit %d, %d resumed, %d succeeded; want 0, %d, %d\n%s", rest.code, rest.sum.Resumed, rest.sum.Succeeded, stored, n-stored, rest.stderr)
	}
	var rows, own int
	db.QueryRow("SELECT count(*), count(*) FILTER (WHERE response->>'path' = '/item/' || id) FROM sluice_results").Scan(&rows, &own)
	if rows != n || own != n {
		t.Errorf("%d rows, %d answering their own id; want %d each", rows, own, n)
	}
}
