package table

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/journal"
)

// Options configures [Open]. Dest is required; the other fields' zero
// values are the defaults.
type Options struct {
	// Dest is `sqlite:PATH` or a postgres:// URL ([IsDestination]).
	Dest string
	// Name is the results table's; "" means [DefaultName].
	Name string
	// Restart renames the tables aside (NAME_1, NAME_1_errors, ...) when
	// they hold rows, and starts with new ones. Nothing is dropped.
	Restart bool
	// OpenTimeout bounds reaching the database; 0 means 10s.
	OpenTimeout time.Duration
}

// Table is one run's results and errors tables. Open one with [Open]; it
// is used as the JSONL journal is (see the package comment). A Table is
// safe for concurrent use: queueing takes a short lock, and one Flush
// writes at a time while others queue. The zero value is not usable.
type Table struct {
	store  store
	names  names
	dest   string // Describe(Options.Dest)
	shaper rowShaper
	done   *journal.Index

	resumed, unrecorded int
	asideResults        string // where Restart moved the earlier tables
	asideErrors         string

	writeMu    sync.Mutex // one write at a time
	superseded bool       // the superseded table exists; under writeMu
	moved      int        // rows moved to the superseded table; under writeMu

	mu      sync.Mutex
	results []resultRow
	errs    []errorRow
	bytes   int
	err     error // the first failed write; everything refuses after it
	closed  bool
}

// Open reaches the database, creates the tables that are missing, checks
// the shape of those that exist, empties the errors table (it describes
// the latest run), and reads back the ids of the results table into
// [Table.Done] (unless opts.Restart, which first moves the tables aside).
// Every error it returns is about the destination, found before anything
// is sent: [ErrName], [ErrUnreachable], [ErrShape], [ErrInUse], or the
// database's own.
//
// Resuming costs one scan of the results table's id and fingerprint
// columns, and the index's 25-35 bytes an id.
func Open(ctx context.Context, opts Options) (*Table, error) {
	kind, rest, ok := parse(opts.Dest)
	if !ok {
		return nil, fmt.Errorf("%w: %q: want sqlite:PATH or a postgres:// URL", ErrName, opts.Dest)
	}
	name := opts.Name
	if name == "" {
		name = DefaultName
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	timeout := opts.OpenTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	setup, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := &Table{names: namesOf(name), dest: Describe(opts.Dest), done: journal.NewIndex()}
	var err error
	switch kind {
	case SQLite:
		t.store, err = openSQLite(setup, rest, name)
	case Postgres:
		t.shaper.strict = true
		t.store, err = openPostgres(setup, rest, name, false)
	}
	if err != nil {
		return nil, err
	}
	if err := t.prepare(setup, ctx, opts.Restart); err != nil {
		t.store.close()
		if setup.Err() != nil && !errors.Is(err, ErrShape) {
			err = fmt.Errorf("%w: %s: %w", ErrUnreachable, t.dest, err)
		}
		return nil, err
	}
	return t, nil
}

// prepare moves the tables aside (restart), creates or checks them,
// empties the errors table (all within setup, which bounds waiting for
// the database) and loads the done ids (within ctx: a large table takes
// its time).
func (t *Table) prepare(ctx, loadCtx context.Context, restart bool) error {
	if restart {
		if err := t.moveAside(ctx); err != nil {
			return err
		}
	}
	s := t.store
	found, err := t.check(ctx)
	if err != nil {
		return err
	}
	for _, f := range found {
		switch {
		case f.exists && len(f.add) > 0:
			if err := s.exec(ctx, f.add...); err != nil {
				return fmt.Errorf("table: adding to %s what this sluice stores: %w", f.name, err)
			}
		case !f.exists && f.name != t.names.superseded: // the superseded table is made when first needed
			if err := s.exec(ctx, f.create); err != nil {
				return fmt.Errorf("table: creating %s: %w", f.name, err)
			}
		}
		if f.exists && f.name == t.names.superseded {
			t.superseded = true
		}
	}
	if err := s.exec(ctx, "DELETE FROM "+s.ident(t.names.errors)); err != nil {
		return fmt.Errorf("table: emptying %s: %w", t.names.errors, err)
	}
	return t.load(loadCtx)
}

// found is what check found of one of a run's tables.
type found struct {
	name   string
	exists bool
	add    []string // exists: the columns to add (addMissing)
	create string   // !exists: its CREATE TABLE
}

// check describes the run's tables and checks that those that exist can
// take the run's rows (once add has run); it changes nothing, so that a
// dry run ([Read]) finds the shape errors Open would.
func (t *Table) check(ctx context.Context) ([]found, error) {
	s := t.store
	var all []found
	for _, tb := range []struct {
		name string
		cols []column
		key  bool
	}{{t.names.results, resultColumns, true}, {t.names.errors, errorColumns, false}, {t.names.superseded, resultColumns, false}} {
		got, ok, err := s.describe(ctx, tb.name)
		if err != nil {
			return nil, fmt.Errorf("table: %s: %w", tb.name, err)
		}
		f := found{name: tb.name, exists: ok}
		if ok {
			var add []string
			add, got = addMissing(s.ident(tb.name), got, tb.cols, s.typeOf)
			if err := checkShape(tb.name, got, tb.cols, tb.key, s.accepts, s.typeOf); err != nil {
				return nil, err
			}
			f.add = add
		} else {
			f.create = createSQL(s.ident(tb.name), tb.cols, tb.key, s.typeOf)
		}
		all = append(all, f)
	}
	return all, nil
}

// load reads the results table's ids and fingerprints into t.done.
func (t *Table) load(ctx context.Context) error {
	return t.store.load(ctx, t.names.results, func(id, fp string) {
		v, err := strconv.ParseUint(fp, 16, 64)
		if err != nil || len(fp) != 16 {
			v = 0
			t.unrecorded++
		}
		t.done.MarkStored(id, v)
	})
}

// moveAside renames the tables to the first free NAME_n (NAME_n_errors,
// NAME_n_superseded) when any of them holds rows.
func (t *Table) moveAside(ctx context.Context) error {
	s := t.store
	all := []string{t.names.results, t.names.errors, t.names.superseded}
	var present []string
	any := false
	for _, name := range all {
		_, ok, err := s.describe(ctx, name)
		if err != nil {
			return fmt.Errorf("table: %s: %w", name, err)
		}
		if !ok {
			continue
		}
		present = append(present, name)
		if rows, err := s.hasRows(ctx, name); err != nil {
			return fmt.Errorf("table: %s: %w", name, err)
		} else if rows {
			any = true
		}
	}
	if !any {
		return nil
	}
	for n := 1; ; n++ {
		aside := namesOf(t.names.results + "_" + strconv.Itoa(n))
		free := true
		for _, name := range []string{aside.results, aside.errors, aside.superseded} {
			_, ok, err := s.describe(ctx, name)
			if err != nil {
				return fmt.Errorf("table: %s: %w", name, err)
			}
			free = free && !ok
		}
		if !free {
			continue
		}
		to := map[string]string{t.names.results: aside.results, t.names.errors: aside.errors, t.names.superseded: aside.superseded}
		var stmts []string
		for _, name := range present {
			stmts = append(stmts, renameSQL(s, name, to[name]))
		}
		if err := s.exec(ctx, stmts...); err != nil {
			return fmt.Errorf("table: moving %s aside: %w", t.names.results, err)
		}
		for _, name := range present {
			switch name {
			case t.names.results:
				t.asideResults = aside.results
			case t.names.errors:
				t.asideErrors = aside.errors
			}
		}
		return nil
	}
}

// renameSQL renames a table within its schema.
func renameSQL(s store, from, to string) string {
	return "ALTER TABLE " + s.ident(from) + " RENAME TO " + quote(to)
}

// quote is name as a quoted SQL identifier; names are checkName'd, so
// they hold no quote.
func quote(name string) string { return `"` + name + `"` }

// Done returns the ids of the items that succeeded: read back from the
// results table at Open, plus those queued since. The index is live and
// safe for concurrent use; the runner skips the ids it holds, and may
// Redo one whose request changed.
func (t *Table) Done() *journal.Index { return t.done }

// Resumed returns how many ids the results table held at Open.
func (t *Table) Resumed() int { return t.done.Len() }

// Unrecorded returns how many rows Open read back without a fingerprint;
// their ids count as unchanged.
func (t *Table) Unrecorded() int { return t.unrecorded }

// MovedAside returns the names Restart gave the earlier results and
// errors tables; "" when it moved none.
func (t *Table) MovedAside() (results, errors string) { return t.asideResults, t.asideErrors }

// Names returns, for people, where the results and the errors go: the
// tables and the destination (its password hidden).
func (t *Table) Names() (results, errors string) {
	return fmt.Sprintf("table %s of %s", t.names.results, t.dest), fmt.Sprintf("table %s", t.names.errors)
}

// Superseded returns how many earlier rows this Table moved to the
// superseded table, and that table's name.
func (t *Table) Superseded() (int, string) {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	return t.moved, t.names.superseded
}

// Close writes what is still queued, unless a write failed, and closes
// the connection. It returns the first error the Table met. Later calls
// return nil; queueing after Close fails.
func (t *Table) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	failed := t.err
	t.mu.Unlock()
	var ferr error
	if failed == nil {
		_, _, ferr = t.Flush()
	}
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	return errors.Join(failed, ferr, t.store.close())
}
