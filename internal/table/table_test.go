package table

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/journal"
)

func open(t *testing.T, opts Options) *Table {
	t.Helper()
	tb, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", opts.Dest, err)
	}
	t.Cleanup(func() { tb.Close() })
	return tb
}

func item(id string, line int) input.Item {
	return input.Item{ID: id, Line: line, Method: "POST", URL: "http://api.test/x", Body: []byte(`{"q":"` + id + `"}`), Metadata: []byte(`{"title":"t-` + id + `"}`)}
}

func answer(body string, fp uint64) input.Response {
	return input.Response{Status: 200, RequestID: "req-1", Body: []byte(body), Attempts: 2, Elapsed: 1500 * time.Microsecond, Fingerprint: fp}
}

func flush(t *testing.T, tb *Table, wantResults, wantErrors int) {
	t.Helper()
	r, e, err := tb.Flush()
	if err != nil || r != wantResults || e != wantErrors {
		t.Fatalf("Flush() = %d, %d, %v; want %d, %d, nil", r, e, err, wantResults, wantErrors)
	}
}

// TestTableStoresRowsAndResumes is the round trip: rows written with
// everything the issue lists, read back by the next Open as done ids with
// their fingerprints, and the errors table emptied for the new run.
func TestTableStoresRowsAndResumes(t *testing.T) {
	forEach(t, func(t *testing.T, newDest func(*testing.T) string) {
		dest := newDest(t)
		tb := open(t, Options{Dest: dest})
		if err := tb.QueueResult(item("a", 2), answer(`{"answer": 42}`, 0xabc), &sluice.Usage{InputTokens: 10, OutputTokens: 20}); err != nil {
			t.Fatal(err)
		}
		if err := tb.QueueResult(item("b", 3), answer("plain <text>", 0xdef), nil); err != nil {
			t.Fatal(err)
		}
		if err := tb.QueueError(item("c", 4), input.Failure{Class: "fatal", Status: 400, Message: "bad request", Attempts: 1, Body: []byte(`{"error":"no"}`)}); err != nil {
			t.Fatal(err)
		}
		if err := tb.QueueBadLine(input.BadLine{Line: 5, Reason: "invalid JSON"}); err != nil {
			t.Fatal(err)
		}
		if n, _ := tb.Queued(); n != 4 {
			t.Errorf("Queued() = %d rows, want 4", n)
		}
		flush(t, tb, 2, 2)
		if n, _ := tb.Queued(); n != 0 {
			t.Errorf("Queued() after Flush = %d rows, want 0", n)
		}
		got := query(t, dest, `SELECT id, line, status, response->>'answer', response_text, metadata->>'title', request, request_id, attempts, elapsed_ms, input_tokens, output_tokens, fingerprint FROM sluice_results ORDER BY id`)
		want := [][]string{
			{"a", "2", "200", "42", "NULL", "t-a", `{"q":"a"}`, "req-1", "2", "1.5", "10", "20", "0000000000000abc"},
			{"b", "3", "200", "NULL", "plain <text>", "t-b", `{"q":"b"}`, "req-1", "2", "1.5", "NULL", "NULL", "0000000000000def"},
		}
		if !equalRows(got, want) {
			t.Errorf("results rows:\n got %v\nwant %v", got, want)
		}
		got = query(t, dest, `SELECT coalesce(id, '-'), line, class, coalesce(status, 0), message, coalesce(response_text, '-'), attempts FROM sluice_results_errors ORDER BY line`)
		want = [][]string{{"c", "4", "fatal", "400", "bad request", `{"error":"no"}`, "1"}, {"-", "5", "bad_line", "0", "invalid JSON", "-", "0"}}
		if !equalRows(got, want) {
			t.Errorf("errors rows:\n got %v\nwant %v", got, want)
		}
		if at := one(t, dest, "SELECT finished_at FROM sluice_results WHERE id = 'a'"); !strings.HasPrefix(at, time.Now().UTC().Format("2006-01-02")) {
			t.Errorf("finished_at = %q, want today's date", at)
		}
		if err := tb.Close(); err != nil {
			t.Fatal(err)
		}

		again := open(t, Options{Dest: dest})
		if again.Resumed() != 2 || !again.Done().Has("a") || !again.Done().Has("b") || again.Done().Has("c") {
			t.Errorf("resumed %d ids (a %v, b %v, c %v); want a and b", again.Resumed(), again.Done().Has("a"), again.Done().Has("b"), again.Done().Has("c"))
		}
		if c := again.Done().Compare("a", 0xabc); c != journal.Unchanged {
			t.Errorf("Compare(a, its fingerprint) = %v, want Unchanged", c)
		}
		if c := again.Done().Compare("a", 0x123); c != journal.Changed {
			t.Errorf("Compare(a, another fingerprint) = %v, want Changed", c)
		}
		if n := one(t, dest, "SELECT count(*) FROM sluice_results_errors"); n != "0" {
			t.Errorf("the errors table holds %s rows after Open, want 0 (it describes the latest run)", n)
		}
	})
}

func equalRows(got, want [][]string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if strings.Join(got[i], "\x00") != strings.Join(want[i], "\x00") {
			return false
		}
	}
	return true
}

func TestTableRefusesAnIDTwice(t *testing.T) {
	forEach(t, func(t *testing.T, newDest func(*testing.T) string) {
		dest := newDest(t)
		tb := open(t, Options{Dest: dest})
		if err := tb.QueueResult(item("a", 1), answer(`{}`, 1), nil); err != nil {
			t.Fatal(err)
		}
		flush(t, tb, 1, 0)
		if err := tb.QueueResult(item("a", 1), answer(`{}`, 1), nil); !errors.Is(err, journal.ErrAlreadySucceeded) {
			t.Errorf("second QueueResult(a) = %v, want ErrAlreadySucceeded", err)
		}
		tb.Close()
		tb = open(t, Options{Dest: dest})
		if err := tb.QueueResult(item("a", 1), answer(`{}`, 1), nil); !errors.Is(err, journal.ErrAlreadySucceeded) {
			t.Errorf("QueueResult(a) after resuming = %v, want ErrAlreadySucceeded", err)
		}
	})
}

// TestTableRestartMovesTablesAside: --restart renames, never drops, and
// numbers the pairs.
func TestTableRestartMovesTablesAside(t *testing.T) {
	forEach(t, func(t *testing.T, newDest func(*testing.T) string) {
		dest := newDest(t)
		for round, id := range []string{"first", "second", "third"} {
			tb := open(t, Options{Dest: dest, Restart: true})
			if tb.Resumed() != 0 {
				t.Errorf("round %d: resumed %d ids with Restart", round, tb.Resumed())
			}
			if err := tb.QueueResult(item(id, 1), answer(`{}`, 1), nil); err != nil {
				t.Fatal(err)
			}
			if err := tb.QueueError(item("x", 2), input.Failure{Class: "fatal", Message: "m"}); err != nil {
				t.Fatal(err)
			}
			flush(t, tb, 1, 1)
			r, e := tb.MovedAside()
			wantR, wantE := "", ""
			if round > 0 {
				wantR, wantE = "sluice_results_"+string(rune('0'+round)), "sluice_results_"+string(rune('0'+round))+"_errors"
			}
			if r != wantR || e != wantE {
				t.Errorf("round %d: MovedAside() = %q, %q; want %q, %q", round, r, e, wantR, wantE)
			}
			tb.Close()
		}
		for table, id := range map[string]string{"sluice_results": "third", "sluice_results_1": "first", "sluice_results_2": "second"} {
			if got := one(t, dest, "SELECT id FROM "+table); got != id {
				t.Errorf("%s holds %s, want %s", table, got, id)
			}
		}
		if n := one(t, dest, "SELECT count(*) FROM sluice_results_1_errors"); n != "1" {
			t.Errorf("sluice_results_1_errors holds %s rows, want 1", n)
		}
	})
}

// TestTableChangedRequestSupersedes: an id run again because its request
// changed replaces its row, and the earlier row is kept in the superseded
// table, in the same transaction.
func TestTableChangedRequestSupersedes(t *testing.T) {
	forEach(t, func(t *testing.T, newDest func(*testing.T) string) {
		dest := newDest(t)
		tb := open(t, Options{Dest: dest})
		tb.QueueResult(item("a", 1), answer(`{"v":1}`, 0x1111), nil)
		tb.QueueResult(item("b", 2), answer(`{"v":1}`, 0x2222), nil)
		flush(t, tb, 2, 0)
		tb.Close()

		tb = open(t, Options{Dest: dest, Name: "sluice_results"})
		if tb.Done().Compare("a", 0x9999) != journal.Changed {
			t.Fatal("a's new fingerprint is not seen as changed")
		}
		tb.Done().Redo("a") // what the runner does
		if err := tb.QueueResult(item("a", 1), answer(`{"v":2}`, 0x9999), nil); err != nil {
			t.Fatal(err)
		}
		flush(t, tb, 1, 0)
		if n, where := tb.Superseded(); n != 1 || where != "sluice_results_superseded" {
			t.Errorf("Superseded() = %d, %q; want 1, sluice_results_superseded", n, where)
		}
		got := query(t, dest, "SELECT id, response->>'v', fingerprint FROM sluice_results ORDER BY id")
		if want := [][]string{{"a", "2", "0000000000009999"}, {"b", "1", "0000000000002222"}}; !equalRows(got, want) {
			t.Errorf("results: got %v, want %v", got, want)
		}
		got = query(t, dest, "SELECT id, response->>'v', fingerprint FROM sluice_results_superseded")
		if want := [][]string{{"a", "1", "0000000000001111"}}; !equalRows(got, want) {
			t.Errorf("superseded: got %v, want %v", got, want)
		}
	})
}

// TestTableRefusesIncompatibleTable: an existing table that cannot take
// the rows is a clear error naming the table and the column, found at
// Open; one with more columns that may be NULL is fine.
func TestTableRefusesIncompatibleTable(t *testing.T) {
	forEach(t, func(t *testing.T, newDest func(*testing.T) string) {
		cases := []struct {
			name, create, want string
		}{
			{"missing column", "CREATE TABLE answers (id text PRIMARY KEY, status integer)", "table answers has no column line"},
			{"wrong type", "CREATE TABLE answers (id text PRIMARY KEY, line integer, status text, response text, response_text text, metadata text, request text, request_id text, attempts integer, elapsed_ms real, input_tokens integer, output_tokens integer, fingerprint text, finished_at text)", "column status is"},
			{"no key", "CREATE TABLE answers (id text, line integer, status integer, response JSONTYPE, response_text text, metadata JSONTYPE, request text, request_id text, attempts integer, elapsed_ms REALTYPE, input_tokens integer, output_tokens integer, fingerprint text, finished_at TIMETYPE)", "column id is not its primary key"},
			{"extra required column", "CREATE TABLE answers (id text PRIMARY KEY, line integer, status integer, response JSONTYPE, response_text text, metadata JSONTYPE, request text, request_id text, attempts integer, elapsed_ms REALTYPE, input_tokens integer, output_tokens integer, fingerprint text, finished_at TIMETYPE, owner text NOT NULL)", "column owner is NOT NULL"},
			{"errors table", "CREATE TABLE answers_errors (id text, line integer)", "table answers_errors has no column class"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				dest := newDest(t)
				execSQL(t, dest, typed(dest, c.create))
				_, err := Open(context.Background(), Options{Dest: dest, Name: "answers"})
				if !errors.Is(err, ErrShape) || !strings.Contains(err.Error(), c.want) {
					t.Errorf("Open on %q: %v; want ErrShape saying %q", c.create, err, c.want)
				}
			})
		}
		t.Run("extra nullable column", func(t *testing.T) {
			dest := newDest(t)
			execSQL(t, dest, typed(dest, "CREATE TABLE answers (note text, id text PRIMARY KEY, line integer, status integer, response JSONTYPE, response_text text, metadata JSONTYPE, request text, request_id text, attempts bigint, elapsed_ms REALTYPE, input_tokens integer, output_tokens integer, fingerprint text, finished_at TIMETYPE)"))
			tb := open(t, Options{Dest: dest, Name: "answers"})
			tb.QueueResult(item("a", 1), answer(`{}`, 1), nil)
			flush(t, tb, 1, 0)
		})
	})
}

// typed fills a CREATE TABLE's placeholder types for dest's database.
func typed(dest, create string) string {
	json, real, tm := "text", "real", "text"
	if isPostgres(dest) {
		json, real, tm = "jsonb", "double precision", "timestamptz"
	}
	return strings.NewReplacer("JSONTYPE", json, "REALTYPE", real, "TIMETYPE", tm).Replace(create)
}

// TestTableUnreachable: a destination that cannot be opened is an error
// at Open, before anything is sent.
func TestTableUnreachable(t *testing.T) {
	dir := t.TempDir()
	notDB := dir + "/not.db"
	if err := writeFile(notDB, "this is not a database, it is a text file long enough to have a header................................"); err != nil {
		t.Fatal(err)
	}
	for _, dest := range []string{
		"sqlite:" + dir + "/missing/dir/r.db",
		"sqlite:" + notDB,
		"postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2",
	} {
		_, err := Open(context.Background(), Options{Dest: dest})
		if !errors.Is(err, ErrUnreachable) {
			t.Errorf("Open(%s) = %v, want ErrUnreachable", dest, err)
		}
	}
	for _, dest := range []string{"sqlite:", "sqlite::memory:", "postgres://host:notaport/db"} {
		if _, err := Open(context.Background(), Options{Dest: dest}); !errors.Is(err, ErrName) {
			t.Errorf("Open(%s) = %v, want ErrName", dest, err)
		}
	}
	if _, err := Open(context.Background(), Options{Dest: "sqlite:" + dir + "/r.db", Name: "Results"}); !errors.Is(err, ErrName) {
		t.Errorf("Open with table name Results = %v, want ErrName", err)
	}
}

func TestDescribeHidesThePassword(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@h:5432/db?sslmode=disable": "postgres://u:***@h:5432/db?sslmode=disable",
		"postgres://u@h/db?password=secret":             "postgres://u@h/db?password=***",
		"sqlite:answers.db?_pragma=synchronous(FULL)":   "sqlite:answers.db",
	} {
		if got := Describe(in); got != want || strings.Contains(got, "secret") {
			t.Errorf("Describe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTableFailsForGoodAfterAFailedWrite: a write the database refuses
// fails that Flush and every later call, and nothing of it is counted.
func TestTableFailsForGoodAfterAFailedWrite(t *testing.T) {
	forEach(t, func(t *testing.T, newDest func(*testing.T) string) {
		dest := newDest(t)
		tb := open(t, Options{Dest: dest})
		// Another writer took the id meanwhile: the primary key refuses it.
		execSQL(t, dest, "INSERT INTO sluice_results (id, status) VALUES ('a', 200)")
		tb.QueueResult(item("a", 1), answer(`{}`, 1), nil)
		tb.QueueResult(item("b", 2), answer(`{}`, 1), nil)
		if r, e, err := tb.Flush(); err == nil || r != 0 || e != 0 {
			t.Fatalf("Flush() over a taken id = %d, %d, %v; want an error and nothing counted", r, e, err)
		}
		if n := one(t, dest, "SELECT count(*) FROM sluice_results"); n != "1" {
			t.Errorf("the table holds %s rows, want only the other writer's 1 (the transaction rolled back)", n)
		}
		if err := tb.QueueResult(item("c", 3), answer(`{}`, 1), nil); err == nil {
			t.Error("QueueResult after a failed write succeeded")
		}
		if _, _, err := tb.Flush(); err == nil {
			t.Error("Flush after a failed write succeeded")
		}
		if err := tb.Close(); err == nil {
			t.Error("Close after a failed write returned nil")
		}
	})
}

// TestSQLiteHonoursThePathsParameters: the driver's parameters after the
// path win over the Table's defaults (WAL unless told otherwise).
func TestSQLiteHonoursThePathsParameters(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ dest, want string }{
		{"sqlite:" + dir + "/default.db", "wal"},
		{"sqlite:" + dir + "/given.db?_journal_mode=DELETE", "delete"},
		// TRUNCATE is not kept in the file (only WAL is): another
		// connection sees the default, delete, and not the Table's WAL.
		{"sqlite:" + dir + "/pragma.db?_pragma=journal_mode(TRUNCATE)", "delete"},
	} {
		tb := open(t, Options{Dest: c.dest})
		tb.QueueResult(item("a", 1), answer(`{}`, 1), nil)
		flush(t, tb, 1, 0)
		tb.Close()
		if got := one(t, "sqlite:"+File(c.dest), "PRAGMA journal_mode"); got != c.want {
			t.Errorf("%s: journal_mode %s, want %s", c.dest, got, c.want)
		}
	}
}
