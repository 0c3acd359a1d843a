package table

import "context"

// store is one database kind's side of a Table: everything that differs
// between SQLite and PostgreSQL. A Table calls it from one goroutine at a
// time (Open, then Flush under the Table's write lock, then Close).
type store interface {
	// ident is a table name quoted (and, for PostgreSQL, qualified) for SQL.
	ident(name string) string
	typeOf(k kind) string
	accepts(k kind, declared string) bool
	// describe returns an existing table's columns; ok false when there
	// is no such table.
	describe(ctx context.Context, name string) (t existing, ok bool, err error)
	hasRows(ctx context.Context, name string) (bool, error)
	// exec runs statements in one transaction.
	exec(ctx context.Context, stmts ...string) error
	// load calls each with every results row's id and fingerprint ("" for
	// NULL).
	load(ctx context.Context, table string, each func(id, fp string)) error
	// write stores one flush's rows in one transaction and returns once
	// it committed. again holds the ids among results whose earlier rows
	// move to the superseded table.
	write(ctx context.Context, n names, results []resultRow, errs []errorRow, again []string) error
	close() error
}
