package table

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite", no cgo
)

// sqliteStore is the SQLite side of a Table: one connection (a writer
// has no use for more), its pragmas in the DSN so that one database/sql
// opens again after a bad connection has them too.
type sqliteStore struct {
	db    *sql.DB // one connection at most
	path  string
	chunk *sql.Stmt // the INSERT of sqliteChunk results rows; nil until the first
	lock  *os.File  // holds the table's lock (lockSQLiteTable) until close
}

// sqliteDefaults are the pragmas a Table sets unless the path's parameters
// set them: WAL with synchronous=NORMAL commits without an fsync each
// (a kill -9 loses no committed transaction; a power loss may roll back the
// last ones), and a busy timeout lets a reader (sqlite3 on the same file)
// hold the database for a moment without failing the run.
var sqliteDefaults = []struct{ pragma, keys, value string }{
	{"busy_timeout", "_busy_timeout _timeout", "10000"},
	{"journal_mode", "_journal_mode _journal", "WAL"},
	{"synchronous", "_synchronous _sync", "NORMAL"},
}

// openSQLite opens the database and takes the lock on table, so that a
// second run into it is refused here ([ErrInUse]), before anything is
// sent, rather than at its first duplicate row.
func openSQLite(ctx context.Context, rest, table string) (*sqliteStore, error) {
	path, query, err := sqliteDir(rest)
	if err != nil {
		return nil, err
	}
	lock, err := lockSQLiteTable(path, table)
	if err != nil {
		return nil, err
	}
	s, err := openSQLiteDB(ctx, path, query)
	if err != nil {
		lock.Close()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

// sqliteDir is sqlitePath, checking that the file's directory exists.
func sqliteDir(rest string) (path, query string, err error) {
	path, query, err = sqlitePath(rest)
	if err != nil {
		return "", "", err
	}
	if dir := filepath.Dir(path); dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return "", "", fmt.Errorf("%w: sqlite:%s: no directory %s", ErrUnreachable, path, dir)
		}
	}
	return path, query, nil
}

// openSQLiteReadOnly opens the database for [Read]: read-only (SQLite's
// mode=ro, which creates no file and refuses every write), without the
// table's lock and without the pragmas a writer sets (switching to WAL
// writes the file). exists is false, and the store nil, when there is no
// database file yet.
func openSQLiteReadOnly(ctx context.Context, rest string) (s *sqliteStore, exists bool, err error) {
	path, query, err := sqliteDir(rest)
	if err != nil {
		return nil, false, err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	q, _ := url.ParseQuery(query)
	ro := url.Values{"mode": {"ro"}, "_pragma": {"query_only(1)"}}
	ro.Set("_busy_timeout", "10000")
	for _, k := range []string{"_busy_timeout", "_timeout"} {
		if q.Has(k) {
			ro.Set("_busy_timeout", q.Get(k))
		}
	}
	// A database in WAL mode read through a read-only connection gets a
	// -shm and a -wal file that the connection, read-only, cannot remove
	// when it closes. With no -wal file there, no program has it open
	// (the last to close checkpoints and removes it) and everything is in
	// the database file: read as immutable, SQLite makes neither. (A run
	// starting meanwhile writes to a -wal file of its own, not to the
	// database file, until its first checkpoint.)
	if _, err := os.Stat(path + "-wal"); errors.Is(err, fs.ErrNotExist) {
		ro.Set("immutable", "1")
	}
	// A "file:" name: only then does SQLite read mode=ro.
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+ro.Encode())
	if err != nil {
		return nil, true, fmt.Errorf("%w: sqlite:%s: %w", ErrUnreachable, path, err)
	}
	db.SetMaxOpenConns(1)
	if err := firstQuery(ctx, db); err != nil {
		db.Close()
		return nil, true, fmt.Errorf("%w: sqlite:%s: %w", ErrUnreachable, path, err)
	}
	return &sqliteStore{db: db, path: path}, true, nil
}

func openSQLiteDB(ctx context.Context, path, query string) (*sqliteStore, error) {
	q, _ := url.ParseQuery(query)
	for _, d := range sqliteDefaults {
		set := false
		for _, k := range strings.Fields(d.keys) {
			set = set || q.Has(k)
		}
		for _, p := range q["_pragma"] {
			set = set || strings.HasPrefix(strings.ToLower(strings.TrimSpace(p)), d.pragma)
		}
		if !set {
			q.Add("_pragma", d.pragma+"("+d.value+")")
		}
	}
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("%w: sqlite:%s: %w", ErrUnreachable, path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	// A file that is not a database fails here, not at the first write.
	if err := firstQuery(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: sqlite:%s: %w", ErrUnreachable, path, err)
	}
	return &sqliteStore{db: db, path: path}, nil
}

// sqliteOpenWait is how long opening waits for a database another program
// holds, as the busy timeout lets a write wait.
const sqliteOpenWait = 10 * time.Second

// firstQuery runs the connection's first query, and with it the pragmas.
// Switching a database in rollback-journal mode to WAL needs its lock,
// and SQLite does not wait for that through the busy timeout: a program
// writing to another table of the file refused the run at once. So a
// busy database is tried again, for up to sqliteOpenWait.
func firstQuery(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(sqliteOpenWait)
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		_, err := db.ExecContext(ctx, "SELECT count(*) FROM sqlite_schema")
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().Add(wait).After(deadline) {
			return err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
	}
}

func (s *sqliteStore) ident(name string) string { return quote(name) }

func (s *sqliteStore) typeOf(k kind) string {
	switch k {
	case kInt:
		return "INTEGER"
	case kReal:
		return "REAL"
	case kBytes:
		return "BLOB"
	}
	return "TEXT" // text, JSON, and times as RFC 3339 text, which SQLite's date functions read
}

// accepts compares by SQLite's type affinity (its rules, section 3.1 of
// "Datatypes In SQLite"), which is what decides how a value is stored: a
// JSON column declared JSON has NUMERIC affinity and would turn a body
// "42" into the integer 42.
func (s *sqliteStore) accepts(k kind, declared string) bool {
	want := "TEXT"
	switch k {
	case kInt:
		want = "INTEGER"
	case kReal:
		want = "REAL"
	case kBytes:
		want = "BLOB"
	}
	return affinity(declared) == want
}

func affinity(declared string) string {
	t := strings.ToUpper(declared)
	switch {
	case strings.Contains(t, "INT"):
		return "INTEGER"
	case strings.Contains(t, "CHAR"), strings.Contains(t, "CLOB"), strings.Contains(t, "TEXT"):
		return "TEXT"
	case t == "", strings.Contains(t, "BLOB"):
		return "BLOB"
	case strings.Contains(t, "REAL"), strings.Contains(t, "FLOA"), strings.Contains(t, "DOUB"):
		return "REAL"
	}
	return "NUMERIC"
}

func (s *sqliteStore) describe(ctx context.Context, name string) (existing, bool, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT name, type, \"notnull\", dflt_value IS NOT NULL, pk FROM pragma_table_info(?)", name)
	if err != nil {
		return existing{}, false, err
	}
	defer rows.Close()
	var t existing
	var keys []string
	for rows.Next() {
		var d declared
		var notNull, hasDefault bool
		var pk int
		if err := rows.Scan(&d.name, &d.typ, &notNull, &hasDefault, &pk); err != nil {
			return existing{}, false, err
		}
		d.nullable = !notNull || hasDefault || pk > 0 && strings.EqualFold(d.typ, "INTEGER") // a rowid alias fills itself
		if pk > 0 {
			keys = append(keys, strings.ToLower(d.name))
		}
		t.columns = append(t.columns, d)
	}
	if err := rows.Err(); err != nil {
		return existing{}, false, err
	}
	if len(t.columns) == 0 {
		return existing{}, false, nil
	}
	t.keyed = len(keys) == 1 && keys[0] == "id"
	if !t.keyed {
		t.keyed, err = s.uniqueOnID(ctx, name)
	}
	return t, true, err
}

// uniqueOnID reports whether a unique index covers id alone.
func (s *sqliteStore) uniqueOnID(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_index_list(?) AS l
		WHERE l."unique" AND (SELECT count(*) FROM pragma_index_info(l.name)) = 1
		AND (SELECT i.name FROM pragma_index_info(l.name) AS i) = 'id'`, name).Scan(&n)
	return n > 0, err
}

func (s *sqliteStore) hasRows(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+quote(name)+")").Scan(&n)
	return n != 0, err
}

func (s *sqliteStore) exec(ctx context.Context, stmts ...string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, st := range stmts {
		if _, err := tx.ExecContext(ctx, st); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (s *sqliteStore) load(ctx context.Context, table string, each func(id, fp string)) error {
	rows, err := s.db.QueryContext(ctx, "SELECT id, coalesce(fingerprint, '') FROM "+quote(table))
	if err != nil {
		return fmt.Errorf("table: reading %s: %w", table, err)
	}
	defer rows.Close()
	var id, fp string
	for rows.Next() {
		if err := rows.Scan(&id, &fp); err != nil {
			return fmt.Errorf("table: reading %s: %w", table, err)
		}
		each(id, fp)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("table: reading %s: %w", table, err)
	}
	return nil
}

// timeText is how SQLite rows hold a time: RFC 3339 in UTC, to the
// millisecond, which sorts as text and which datetime() and julianday()
// read.
const timeText = "2006-01-02T15:04:05.000Z"

func (s *sqliteStore) write(ctx context.Context, n names, results []resultRow, errs []errorRow, again []string) error {
	if s.chunk == nil && len(results) >= sqliteChunk {
		// Prepared on the database, not in a transaction, so that every
		// transaction reuses it (on the one connection).
		one := "(" + placeholders(len(resultColumns)) + ")"
		st, err := s.db.PrepareContext(ctx, "INSERT INTO "+quote(n.results)+" ("+columnList(resultColumns)+") VALUES "+strings.TrimSuffix(strings.Repeat(one+", ", sqliteChunk), ", "))
		if err != nil {
			return err
		}
		s.chunk = st
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if len(again) > 0 {
		move, err := tx.PrepareContext(ctx, "INSERT INTO "+quote(n.superseded)+" ("+columnList(resultColumns)+") SELECT "+columnList(resultColumns)+" FROM "+quote(n.results)+" WHERE id = ?")
		if err != nil {
			return err
		}
		del, err := tx.PrepareContext(ctx, "DELETE FROM "+quote(n.results)+" WHERE id = ?")
		if err != nil {
			return err
		}
		for _, id := range again {
			if _, err := move.ExecContext(ctx, id); err != nil {
				return err
			}
			if _, err := del.ExecContext(ctx, id); err != nil {
				return err
			}
		}
	}
	// Rows go sqliteChunk to a statement: one statement's step and one
	// database/sql call for many rows costs about half as much a row as a
	// statement a row.
	for len(results) > 0 {
		k := min(len(results), sqliteChunk)
		ins, err := s.insertStmt(ctx, tx, n.results, k)
		if err != nil {
			return err
		}
		args := make([]any, 0, k*len(resultColumns))
		for i := range results[:k] {
			r := &results[i]
			args = append(args, r.id, r.line, r.status, r.response, r.responseText, blob(r.responseBytes), r.metadata, r.request, r.requestID,
				r.attempts, r.elapsedMS, r.inputTokens, r.outputTokens, r.fingerprint, r.at.Format(timeText))
		}
		if _, err := ins.ExecContext(ctx, args...); err != nil {
			if strings.Contains(err.Error(), "UNIQUE constraint failed") {
				return fmt.Errorf("%w (is another run writing to %s?)", err, n.results)
			}
			return err
		}
		results = results[k:]
	}
	if len(errs) > 0 {
		ins, err := tx.PrepareContext(ctx, "INSERT INTO "+quote(n.errors)+" ("+columnList(errorColumns)+") VALUES ("+placeholders(len(errorColumns))+")")
		if err != nil {
			return err
		}
		for i := range errs {
			e := &errs[i]
			if _, err := ins.ExecContext(ctx, e.id, e.line, e.class, e.status, e.message, e.responseText, blob(e.responseBytes), e.requestID, e.attempts, e.metadata, e.request, e.at.Format(timeText)); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// blob is b for a BLOB column: NULL when nil. The driver binds the slice
// itself, without a copy of ours.
func blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// sqliteChunk is how many rows one INSERT carries at most (15 columns:
// 960 parameters, under SQLite's 32766).
const sqliteChunk = 64

// insertStmt returns the INSERT of k results rows into table for tx: a
// full chunk's is the one write prepared, others are prepared now.
func (s *sqliteStore) insertStmt(ctx context.Context, tx *sql.Tx, table string, k int) (*sql.Stmt, error) {
	one := "(" + placeholders(len(resultColumns)) + ")"
	q := "INSERT INTO " + quote(table) + " (" + columnList(resultColumns) + ") VALUES " + strings.TrimSuffix(strings.Repeat(one+", ", k), ", ")
	if k != sqliteChunk || s.chunk == nil {
		return tx.PrepareContext(ctx, q)
	}
	return tx.StmtContext(ctx, s.chunk), nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func (s *sqliteStore) close() error {
	if s.chunk != nil {
		s.chunk.Close()
	}
	err := s.db.Close()
	if s.lock != nil {
		s.lock.Close() // after the database: the next run finds it closed
	}
	return err
}
