package batch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/table"
)

// destination is where a run's results and errors go: the JSONL journal
// (jsonlFile) or a database table (*table.Table). Both keep the journal's
// protocol (internal/journal's package comment): the Queue methods keep a
// finished item in memory, QueueResult marking its id done in Done at once
// (and refusing one already done); Flush writes what is queued and returns
// how many results and errors it wrote, and the runner counts an item only
// from what a Flush returned; after a failed write every later call fails.
// Implementations are safe for concurrent use: the run loop queues and
// flushes while a goroutine flushes every few milliseconds.
type destination interface {
	// Done is the index of the ids done, read back at open plus those
	// queued since; the runner skips them, and Redoes an id whose
	// request changed.
	Done() *journal.Index
	QueueResult(it input.Item, r input.Response, u *sluice.Usage) error
	QueueError(it input.Item, f input.Failure) error
	QueueBadLine(b input.BadLine) error
	// Queued says how much is waiting for Flush.
	Queued() (items, bytes int)
	Flush() (results, errors int, err error)
	// Finish ends a run that wrote everything: it makes the results
	// durable and, where earlier results of ids run again are still
	// beside their new ones, moves them aside; it returns how many
	// earlier results ids that ran again left, and where they are.
	Finish() (superseded int, where string, err error)
	// Unrecorded counts results read back without a request fingerprint.
	Unrecorded() int
	// MovedAside names where Restart moved the earlier results and errors.
	MovedAside() (results, errors string)
	Close() error
}

// jsonlFile is the journal as a destination: each item's line in its
// input format's shape. A result whose body was spooled does not go
// through QueueResult but through plan.writeSpooled, which writes its
// line in pieces with journal.WriteSucceeded (spool.go).
type jsonlFile struct {
	*journal.Journal
	shape input.Shape
}

func (j jsonlFile) QueueResult(it input.Item, r input.Response, _ *sluice.Usage) error {
	return j.QueueSucceededAppend(it.ID, func(b []byte) []byte { return j.shape.AppendResultLine(b, it, r) })
}

func (j jsonlFile) QueueError(it input.Item, f input.Failure) error {
	return j.QueueFailed(j.shape.ErrorLine(it, f))
}

func (j jsonlFile) QueueBadLine(b input.BadLine) error {
	return j.QueueFailed(j.shape.BadLineLine(b))
}

func (j jsonlFile) Finish() (int, string, error) {
	if err := j.Sync(); err != nil {
		return 0, "", err
	}
	// Item 4: ids that ran again because their request changed, when
	// supersedeChanged could not move their old lines aside first
	// (standard input), have two lines now; keep the new one and move the
	// old aside.
	return j.Compact()
}

// tableDest is a database table as a destination. Earlier rows of ids
// that ran again were moved to the superseded table as each new row was
// written, in its transaction.
type tableDest struct{ *table.Table }

func (t tableDest) Finish() (int, string, error) {
	n, where := t.Superseded()
	return n, where, nil
}

// toDatabase reports whether the results go to a database (-o sqlite:...,
// -o postgres://...).
func (c *Config) toDatabase() bool { return table.IsDestination(c.Out) }

// openTable opens the database destination; its failures are usage
// errors, found before anything is sent.
func (p *plan) openTable(ctx context.Context) (destination, error) {
	t, err := table.Open(ctx, table.Options{Dest: p.cfg.Out, Name: p.cfg.Table, Restart: p.cfg.Restart})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, usageErr(fmt.Errorf("-o %s: %w", table.Describe(p.cfg.Out), err))
	}
	return tableDest{t}, nil
}

// stoppedWriting ends a run whose destination failed: the summary says it
// stopped early, and why, and the error matches ErrStopped (exit 3). The
// rest of the input is counted as an interrupt's is (countRest), so that
// the summary's counts add up to the input's items. Call it once the pool
// has ended: it reads the input.
func (p *plan) stoppedWriting(sum Summary, begin time.Time, what string, err error) (Summary, error) {
	werr := fmt.Errorf("writing %s: %w", what, err)
	if sum.Stopped == nil {
		sum.Stopped = werr
	}
	p.countRest()
	return p.finish(sum, begin), fmt.Errorf("batch: %w: %w", ErrStopped, werr)
}
