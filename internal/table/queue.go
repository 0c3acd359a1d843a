package table

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/journal"
)

// writeTimeout bounds one Flush's transaction: a database that stops
// answering (a network partition) fails the run rather than hanging it.
const writeTimeout = 2 * time.Minute

// ErrClosed: the Table was closed.
var ErrClosed = errors.New("table closed")

// QueueResult queues the row of an item that succeeded, to be written by
// the next Flush, and marks its id done at once, so that it cannot be
// queued twice ([journal.ErrAlreadySucceeded]). u is the usage the API
// reported, nil when unknown. An id done in an earlier run whose request
// changed (the runner called Done().Redo) replaces its earlier row, which
// moves to the superseded table. It fails for good after a failed write
// or Close.
func (t *Table) QueueResult(it input.Item, r input.Response, u *sluice.Usage) error {
	if t.shaper.strict {
		if err := checkPostgresID(it.ID); err != nil { // the runner checks first (IDCheck): a last guard
			return fmt.Errorf("table: id %q: %w", it.ID, err)
		}
	}
	again := r.Fingerprint != 0 && t.done.Compare(it.ID, r.Fingerprint) == journal.Changed
	row := t.shaper.result(it, r, u, time.Now().UTC())
	row.again = again
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usableLocked(); err != nil {
		return err
	}
	if !t.done.TakeDone(it.ID) {
		return fmt.Errorf("table: %s: id %q: %w", t.names.results, it.ID, journal.ErrAlreadySucceeded)
	}
	t.results = append(t.results, row)
	t.bytes += row.size()
	return nil
}

// QueueError queues the errors row of an item that failed.
func (t *Table) QueueError(it input.Item, f input.Failure) error {
	return t.queueError(t.shaper.failure(it, f, time.Now().UTC()))
}

// QueueBadLine queues the errors row of an input line that could not be
// run (class bad_line, no id).
func (t *Table) QueueBadLine(b input.BadLine) error {
	return t.queueError(t.shaper.badLine(b, time.Now().UTC()))
}

func (t *Table) queueError(row errorRow) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usableLocked(); err != nil {
		return err
	}
	t.errs = append(t.errs, row)
	t.bytes += row.size()
	return nil
}

func (t *Table) usableLocked() error {
	if t.closed {
		return fmt.Errorf("table: %s: %w", t.names.results, ErrClosed)
	}
	return t.err
}

// Queued returns how many rows are queued, and about how many bytes they
// hold.
func (t *Table) Queued() (rows, bytes int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.results) + len(t.errs), t.bytes
}

// Flush writes the queued rows in one transaction and returns, once it
// committed, how many results and errors rows it wrote. Rows queued while
// it writes wait for the next Flush. A failed transaction fails the Table:
// this Flush and every later one return its error, and nothing of it is
// counted.
func (t *Table) Flush() (results, errs int, err error) {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	t.mu.Lock()
	if err := t.usableLocked(); err != nil {
		t.mu.Unlock()
		return 0, 0, err
	}
	rows, erows := t.results, t.errs
	t.results, t.errs, t.bytes = nil, nil, 0
	t.mu.Unlock()
	if len(rows)+len(erows) == 0 {
		return 0, 0, nil
	}
	var again []string
	for _, r := range rows {
		if r.again {
			again = append(again, r.id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if len(again) > 0 && !t.superseded {
		s := t.store
		if err := s.exec(ctx, createSQL(s.ident(t.names.superseded), resultColumns, false, s.typeOf)); err != nil {
			return 0, 0, t.fail(fmt.Errorf("table: creating %s: %w", t.names.superseded, err))
		}
		t.superseded = true
	}
	if err := t.store.write(ctx, t.names, rows, erows, again); err != nil {
		return 0, 0, t.fail(fmt.Errorf("table: writing to %s: %w", t.names.results, err))
	}
	t.moved += len(again)
	return len(rows), len(erows), nil
}

func (t *Table) fail(err error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = err
	}
	return t.err
}
