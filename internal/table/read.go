package table

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/journal"
)

// Earlier is what [Read] found of the runs before: what a run opening
// the same destination would resume.
type Earlier struct {
	// Done holds the results table's ids, with their fingerprints, as
	// [Table.Done] would at Open.
	Done *journal.Index
	// Exists is false when there is no results table yet (or, for
	// SQLite, no database file).
	Exists bool
	// Unrecorded counts rows without a request fingerprint.
	Unrecorded int
}

// Read reads the destination back as [Open] does, but only reads: it
// creates no file, table or column, takes no lock, and empties nothing
// (SQLite opened read-only, PostgreSQL in read-only transactions). A
// destination with no results table is no earlier run. Its errors are
// those Open would return for the same tables ([ErrName], [ErrShape],
// [ErrUnreachable], ...); opts.Restart does not apply. It is for a dry
// run, which must say what a run would skip without touching what the
// run will need.
func Read(ctx context.Context, opts Options) (Earlier, error) {
	e := Earlier{Done: journal.NewIndex()}
	kind, rest, ok := parse(opts.Dest)
	if !ok {
		return e, fmt.Errorf("%w: %q: want sqlite:PATH or a postgres:// URL", ErrName, opts.Dest)
	}
	name := opts.Name
	if name == "" {
		name = DefaultName
	}
	if err := checkName(name); err != nil {
		return e, err
	}
	timeout := opts.OpenTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	setup, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := &Table{names: namesOf(name), dest: Describe(opts.Dest), done: e.Done}
	switch kind {
	case SQLite:
		s, exists, err := openSQLiteReadOnly(setup, rest)
		if err != nil || !exists {
			return e, err
		}
		t.store = s
	case Postgres:
		s, err := openPostgres(setup, rest, name, true)
		if err != nil {
			return e, err
		}
		t.store = s
	}
	defer t.store.close()
	found, err := t.check(setup)
	if err == nil && found[0].exists { // found[0] is the results table
		e.Exists = true
		err = t.load(ctx)
	}
	if err != nil {
		if setup.Err() != nil && !errors.Is(err, ErrShape) {
			err = fmt.Errorf("%w: %s: %w", ErrUnreachable, t.dest, err)
		}
		return Earlier{Done: journal.NewIndex()}, err
	}
	e.Unrecorded = t.unrecorded
	return e, nil
}
