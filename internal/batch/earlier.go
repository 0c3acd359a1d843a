package batch

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/table"
)

// earlier is what a dry run found at the destination: what the real run
// would resume from. The destination is only read (journal.Read,
// table.Read), with the code a run opens it with: a dry run creates,
// locks, repairs and empties nothing.
type earlier struct {
	exists     bool // a results file or table is there
	results    int  // distinct ids done in it
	unrecorded int  // of them, without a request fingerprint
	torn       bool // a torn last line, which the run would cut
	unread     bool // --restart: there, but not read (the run would not read it either)
	// err is why the destination cannot be read: the error the run
	// would fail with at its start, before sending anything.
	err error
}

// readEarlier reads the destination for a dry run and sets p.seen to the
// ids done there, as newPlan does from the opened destination for a run.
func (p *plan) readEarlier(ctx context.Context) {
	cfg := p.cfg
	p.seen = journal.NewIndex()
	var (
		done *journal.Index
		e    earlier
		err  error
	)
	switch {
	case cfg.resultsToStdout():
		return // nothing resumed, nothing read
	case cfg.toDatabase():
		var r table.Earlier
		r, err = table.Read(ctx, table.Options{Dest: cfg.Out, Name: cfg.Table})
		if err != nil && !errors.Is(err, context.Canceled) {
			err = usageErr(fmt.Errorf("-o %s: %w", table.Describe(cfg.Out), err)) // as openTable says it
		}
		done, e.exists, e.unrecorded = r.Done, r.Exists, r.Unrecorded
	default:
		var r journal.Earlier
		r, err = journal.Read(journal.Options{ResultsPath: cfg.resultsPath(), ErrorsPath: cfg.errorsFile(), Fingerprint: input.LineFingerprint}, input.ValidLineID)
		if err != nil {
			err = usageErr(err) // as openJournal says it
		}
		done, e.exists, e.unrecorded, e.torn = r.Done, r.Exists, r.Unrecorded, r.Torn
	}
	e.results = done.Len()
	switch {
	case cfg.Restart && (err == nil || !cfg.toDatabase() || errors.Is(err, table.ErrShape)):
		// The run moves what is there aside unread, whatever its shape:
		// nothing to skip, and nothing there that could fail it.
		e.unrecorded, e.torn = 0, false
		e.unread = err != nil
	case err != nil:
		e.err = err
	default:
		p.seen = done
	}
	p.earlier = e
}

// destName names the destination for people: the results file, standard
// output, or the table and its database (a password shown as ***).
func (p *plan) destName() string {
	cfg := p.cfg
	switch {
	case cfg.resultsToStdout():
		return "standard output"
	case cfg.toDatabase():
		name := cfg.Table
		if name == "" {
			name = table.DefaultName
		}
		return "table " + name + " of " + table.Describe(cfg.Out)
	}
	return cfg.resultsPath()
}

// describeEarlier is the dry run's line about the destination: what it
// holds, and what the run would do with it.
func (p *plan) describeEarlier() string {
	cfg, e := p.cfg, p.earlier
	s := "results: " + p.destName()
	switch {
	case cfg.resultsToStdout():
		return s + ": nothing is resumed (a rerun sends every item again)"
	case e.err != nil:
		return s + ": the run would refuse it: " + strings.TrimPrefix(e.err.Error(), ErrUsage.Error()+": ")
	case cfg.Restart && e.unread:
		return s + ": --restart: what is there would be moved aside, unread"
	case cfg.Restart && e.exists && e.results > 0:
		return fmt.Sprintf("%s: --restart: its %d earlier %s would be moved aside, not resumed", s, e.results, plural(e.results, "result", "results"))
	case cfg.Restart:
		return s + ": --restart: nothing there yet to move aside"
	case !e.exists:
		return s + ": new"
	}
	s += fmt.Sprintf(": %d earlier %s", e.results, plural(e.results, "result", "results"))
	if e.unrecorded > 0 {
		s += fmt.Sprintf(", %d without a request fingerprint (taken as unchanged)", e.unrecorded)
	}
	if e.torn {
		s += "; a torn last line, which the run would cut (its item runs again)"
	}
	return s
}
