package table

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// backend is a database kind under test: dest returns a fresh destination
// (a file in a temporary directory, or a schema of its own, dropped at the
// end), and query runs SQL on it, returning every value as text.
type backend struct {
	name string
	dest func(t *testing.T) string
}

var backends = []backend{
	{"sqlite", sqliteDest},
	{"postgres", postgresDest},
}

func sqliteDest(t *testing.T) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "results.db")
}

// postgresURL is the server the tests use: SLUICE_TEST_POSTGRES, else the
// machine's own.
func postgresURL() string {
	if u := os.Getenv("SLUICE_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// postgresDest makes a schema of the test's own and returns a URL whose
// search_path names it, so that everything the test makes is in it; the
// schema is dropped at the end. Without a server the test is skipped,
// unless CI=true.
func postgresDest(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, postgresURL())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at %s: %v (CI=true: the server is required)", postgresURL(), err)
		}
		t.Skipf("no PostgreSQL at %s (set SLUICE_TEST_POSTGRES): %v", postgresURL(), err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 6)
	rand.Read(b)
	schema := "sluice_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, postgresURL())
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		// End the test's own connections first (a Table a failed test
		// left open holds locks), then drop everything it made.
		c.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()", schema)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(postgresURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("application_name", schema) // to find its connections
	u.RawQuery = q.Encode()
	return u.String()
}

// schemaOf is the schema a postgresDest URL names.
func schemaOf(t *testing.T, dest string) string {
	u, err := url.Parse(dest)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("search_path")
}

// query runs q on dest and returns its rows, every value as text ("NULL"
// for NULL).
func query(t *testing.T, dest, q string) [][]string {
	t.Helper()
	ctx := context.Background()
	var rows interface {
		Next() bool
		Err() error
		Close()
	}
	var scan func(n int) []string
	if path := File(dest); path != "" {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		r, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := r.Columns()
		rows = sqlRows{r}
		scan = func(int) []string {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := r.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out := make([]string, len(cols))
			for i, v := range vals {
				out[i] = "NULL"
				if v.Valid {
					out[i] = v.String
				}
			}
			return out
		}
	} else {
		conn, err := pgx.Connect(ctx, dest)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		r, err := conn.Query(ctx, q, pgx.QueryResultFormats{pgx.TextFormatCode})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		rows = r
		scan = func(int) []string {
			raw := r.RawValues()
			out := make([]string, len(raw))
			for i, v := range raw {
				out[i] = "NULL"
				if v != nil {
					out[i] = string(v)
				}
			}
			return out
		}
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		out = append(out, scan(0))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// one is the single value q returns.
func one(t *testing.T, dest, q string) string {
	t.Helper()
	rows := query(t, dest, q)
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("%s: got %v, want one value", q, rows)
	}
	return rows[0][0]
}

// execSQL runs statements on dest.
func execSQL(t *testing.T, dest string, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		query(t, dest, s)
	}
}

// forEach runs f on every backend, as subtests.
func forEach(t *testing.T, f func(t *testing.T, dest func(*testing.T) string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.dest) })
	}
}

func isPostgres(dest string) bool { return strings.HasPrefix(dest, "postgres") }

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }
