package table

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/table/tabletest"
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

func postgresURL() string { return tabletest.URL() }

func postgresDest(t *testing.T) string { return tabletest.Postgres(t) }

func tabletestPostgres(b *testing.B) string { return tabletest.Postgres(b) }

func schemaOf(t *testing.T, dest string) string { return tabletest.Schema(t, dest) }

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
