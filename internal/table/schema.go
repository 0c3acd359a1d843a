package table

import (
	"fmt"
	"slices"
	"strings"
)

// kind is what a column holds; each store maps it to its own type.
type kind int

const (
	kText kind = iota
	kInt
	kReal
	kJSON
	kTime
	kBytes
)

// column is one column the tables need.
type column struct {
	name string
	kind kind
}

// addedLater are the columns that came after the first tables were made:
// a table without one gets it (addMissing), so that a run resumes into a
// table an earlier sluice made. Each may be NULL, so an earlier sluice,
// which does not know it, still writes rows into a table that has it.
var addedLater = map[string]bool{"response_bytes": true}

// resultColumns are the results table's columns, in the order rows are
// written. id is the primary key.
var resultColumns = []column{
	{"id", kText},
	{"line", kInt},
	{"status", kInt},
	{"response", kJSON},
	{"response_text", kText},
	{"response_bytes", kBytes},
	{"metadata", kJSON},
	{"request", kText},
	{"request_id", kText},
	{"attempts", kInt},
	{"elapsed_ms", kReal},
	{"input_tokens", kInt},
	{"output_tokens", kInt},
	{"fingerprint", kText},
	{"finished_at", kTime},
}

// errorColumns are the errors table's columns, in the order rows are
// written.
var errorColumns = []column{
	{"id", kText},
	{"line", kInt},
	{"class", kText},
	{"status", kInt},
	{"message", kText},
	{"response_text", kText},
	{"response_bytes", kBytes},
	{"request_id", kText},
	{"attempts", kInt},
	{"metadata", kJSON},
	{"request", kText},
	{"failed_at", kTime},
}

// names are the run's tables.
type names struct {
	results, errors, superseded string
}

func namesOf(results string) names {
	return names{results, results + "_errors", results + "_superseded"}
}

// declared is a column of an existing table, as the database describes it.
type declared struct {
	name     string
	typ      string // as declared (SQLite) or formatted (PostgreSQL)
	nullable bool   // may be NULL or has a default: an INSERT without it works
}

// existing is what a store found of a table.
type existing struct {
	columns []declared
	// keyed: the table's primary key (or a unique index) is id alone.
	keyed bool
}

// addMissing returns the statements that add to an existing table the
// columns of cols it lacks that came later (addedLater), and got with
// them, as the table will be once they ran.
func addMissing(ident string, got existing, cols []column, typeOf func(kind) string) ([]string, existing) {
	have := make(map[string]bool, len(got.columns))
	for _, c := range got.columns {
		have[strings.ToLower(c.name)] = true
	}
	var stmts []string
	for _, c := range cols {
		if !addedLater[c.name] || have[c.name] {
			continue
		}
		// Nullable, without a default: no rewrite of the rows in either
		// database, only the table's description.
		stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", ident, c.name, typeOf(c.kind)))
		got.columns = append(slices.Clip(got.columns), declared{name: c.name, typ: typeOf(c.kind), nullable: true})
	}
	return stmts, got
}

// checkShape says whether an existing table can take rows of cols, naming
// the table and the first column that does not fit.
func checkShape(table string, got existing, cols []column, needKey bool, accepts func(kind, string) bool, typeOf func(kind) string) error {
	have := make(map[string]declared, len(got.columns))
	for _, c := range got.columns {
		have[strings.ToLower(c.name)] = c
	}
	for _, c := range cols {
		d, ok := have[c.name]
		if !ok {
			return fmt.Errorf("%w: table %s has no column %s (want %s): give another --table, or --restart to move it aside", ErrShape, table, c.name, typeOf(c.kind))
		}
		if !accepts(c.kind, d.typ) {
			return fmt.Errorf("%w: table %s: column %s is %s, want %s: give another --table, or --restart to move it aside", ErrShape, table, c.name, d.typ, typeOf(c.kind))
		}
		delete(have, c.name)
	}
	for _, c := range got.columns {
		if _, extra := have[strings.ToLower(c.name)]; extra && !c.nullable {
			return fmt.Errorf("%w: table %s: column %s is NOT NULL without a default, and sluice does not fill it", ErrShape, table, c.name)
		}
	}
	if needKey && !got.keyed {
		return fmt.Errorf("%w: table %s: column id is not its primary key (each id is stored once)", ErrShape, table)
	}
	return nil
}

// createSQL is the CREATE TABLE of cols, id the primary key when key.
func createSQL(ident string, cols []column, key bool, typeOf func(kind) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (", ident)
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", c.name, typeOf(c.kind))
		switch {
		case key && c.name == "id":
			b.WriteString(" PRIMARY KEY")
		case c.name == "status" && key, c.name == "class":
			b.WriteString(" NOT NULL")
		}
	}
	b.WriteString(")")
	return b.String()
}

// columnList is "a, b, c" of cols.
func columnList(cols []column) string {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = c.name
	}
	return strings.Join(s, ", ")
}
