package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/journal"
)

// ErrUsage is matched by errors in how a run was asked for: bad flags, an
// unreadable input, a missing API key. Nothing was sent.
var ErrUsage = errors.New("usage")

// ErrStopped is matched by the error of a run stopped before it finished:
// interrupted, or the API's quota exhausted. Everything done is saved.
var ErrStopped = errors.New("stopped early")

// Config is one `sluice run`.
type Config struct {
	Input string    // a path, or "-" for Stdin
	Stdin io.Reader // read when Input is "-"
	Out   string    // results file; "" means Input with .results.jsonl; sqlite:PATH or postgres://... a database (see Table)

	Format   input.Format
	BaseURL  string
	Template string // csv body template
	URL      string // csv URL template
	Method   string // csv method

	Headers []string // "Key: Value", ${ENV} expanded
	API     string   // "", "anthropic" or "openai": base URL, auth, token estimates

	Limits       sluice.Limits
	Retries      int           // retries per item; 0 means 8, negative means none
	Timeout      time.Duration // per attempt, up to the headers; 0 means 10m for presets, 60s otherwise
	MaxRetryWait time.Duration // cap on one honoured Retry-After; 0 means 5m

	// Table names the results table when Out is a database (sqlite:PATH
	// or a postgres:// URL); "" means sluice_results. The errors table is
	// Table_errors.
	Table string

	Ordered bool
	Restart bool
	DryRun  bool

	Progress string // auto | bar | log | none

	Stdout, Stderr io.Writer
	Getenv         func(string) string // default os.Getenv
	Base           http.RoundTripper   // default: the Transport's own
	// DrainTimeout bounds how long calls in flight may finish after ctx
	// ends; 0 means DefaultDrainTimeout.
	DrainTimeout time.Duration
	// Abandon, when closed after ctx ended, cuts the calls in flight at
	// once instead of waiting out DrainTimeout (a second Ctrl-C): the
	// run then ends in a moment, and the cut items are left for the next.
	Abandon <-chan struct{}

	// ModelLimits are the limits of the models given their own (item 12),
	// by model name: with a preset, each model has a gate of its own,
	// with these limits if its name is here (or it is a version of a name
	// here: claude-haiku-4 covers claude-haiku-4-5), else with Limits.
	// MaxPause 0 means MaxRetryWait, as for Limits. Only with API.
	ModelLimits map[string]sluice.Limits
	// ModelLimitFlags says, for a name in ModelLimits, how its limits
	// were asked for ("--rate claude-haiku-4-5=1/s"), for the warning
	// that no line of the input uses it; nil names them by the model.
	ModelLimitFlags map[string][]string
	// KeepGoing sends every item even when the first calls all fail alike
	// in a way no retry fixes (issue 10, item 2: see doom); a quota
	// exhausted still stops the run.
	KeepGoing bool
	// Item 4: resume only what is the same.
	// SkipChanged keeps the earlier result of an id whose request changed
	// since (it is counted in Summary.Changed); by default it runs again.
	SkipChanged bool
	// IDColumn names the csv column holding ids (input.Options.IDColumn).
	IDColumn string
}

// Summary is what a run did.
type Summary struct {
	Items      int // valid items to do, read or (after a stop) counted unread
	Resumed    int // skipped: succeeded in an earlier run
	Succeeded  int
	Failed     int
	NotStarted int // not finished when it stopped early, unread ones included: Items - Succeeded - Failed
	BadLines   int
	Repeated   int // urls input: lines repeating an earlier URL, fetched once
	Attempts   int64
	Throttled  int64
	// BudgetWaits counts the retries that waited for the retry budget
	// (paced because the API failed many calls) rather than went at once.
	BudgetWaits int64
	// InputTokens and OutputTokens are the usage the API reported for
	// the succeeded items.
	InputTokens, OutputTokens int64
	Elapsed                   time.Duration
	Stopped                   error // why the run stopped early, or nil
	Results                   string
	Errors                    string

	// Item 4: Changed counts the items done in an earlier run whose
	// request changed since: run again, or kept (Config.SkipChanged, and
	// then counted in Resumed too).
	Changed int
	// ChangedKept is Config.SkipChanged: the changed items kept their
	// earlier results rather than ran again.
	ChangedKept bool
	// Superseded counts the earlier results of ids that ran again, moved
	// out of the results file to SupersededTo.
	Superseded   int
	SupersededTo string
	// Unrecorded counts the earlier results that carry no request
	// fingerprint (written by a sluice from before them): their ids are
	// taken as unchanged.
	Unrecorded int
	// Item 5: MovedAside names where Restart moved the earlier results
	// and errors; "" when there were none.
	MovedAside, MovedAsideErrors string
	// Item 7: the summary's detail.
	Retries int64           // attempts after each item's first
	Pauses  int64           // pauses the API asked for (Retry-After, a reset)
	Reasons []FailureReason // why items failed: the top five, most frequent first
}

// ParseFormat is [input.ParseFormat], for the command line: it returns
// the Format named by s for Config.Format.
func ParseFormat(s string) (input.Format, error) { return input.ParseFormat(s) }

// ExitCode maps a run's outcome to the documented exit codes.
func ExitCode(s Summary, err error) int {
	switch {
	case errors.Is(err, ErrUsage):
		return 2
	case err != nil && !errors.Is(err, ErrStopped):
		return 1
	case s.Stopped != nil:
		return 3
	case s.Failed > 0 || s.BadLines > 0:
		return 1
	}
	return 0
}

func usage(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// usageErr marks err as a usage error, keeping its chain for errors.Is.
func usageErr(err error) error {
	return fmt.Errorf("%w: %w", ErrUsage, err)
}

func (c *Config) getenv(k string) string {
	if c.Getenv != nil {
		return c.Getenv(k)
	}
	return os.Getenv(k)
}

// resultsPath is where results go by default: the input's name with its
// extension replaced.
func (c *Config) resultsPath() string {
	if c.Out != "" {
		return c.Out
	}
	base := c.Input
	if base == "-" {
		base = "stdin"
	}
	if i := strings.LastIndex(base, "."); i > strings.LastIndex(base, "/") {
		base = base[:i]
	}
	return base + ".results.jsonl"
}

// errorsPath is the errors file beside the results file.
func errorsPath(results string) string {
	return strings.TrimSuffix(strings.TrimSuffix(results, ".jsonl"), ".results") + ".errors.jsonl"
}

// DefaultDrainTimeout is how long calls in flight may finish after a run
// is asked to stop, when Config.DrainTimeout is 0.
const DefaultDrainTimeout = 30 * time.Second

// Run runs the batch. Cancelling ctx stops admitting new calls; calls in
// flight get DrainTimeout to finish, and everything finished is saved.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	p, err := newPlan(ctx, &cfg)
	if err != nil {
		return Summary{}, err
	}
	defer p.close()
	if cfg.DryRun {
		return p.dryRun(ctx)
	}
	return p.run(ctx)
}

// items yields the input's runnable items, reporting bad lines and
// repeated ids, skipping those already done, until ctx ends.
func (p *plan) items(ctx context.Context) iter.Seq[input.Item] {
	return func(yield func(input.Item) bool) {
		for ctx.Err() == nil {
			it, err := p.reader.Next()
			if err != nil {
				if bad := (*input.BadLine)(nil); errors.As(err, &bad) {
					p.counts.bad.Add(1)
					p.reportBad(*bad)
					continue
				}
				if err != io.EOF && ctx.Err() == nil { // an interrupt in a long line is the run's stop, not the input's error
					readErr := err // not &err: that would put err on the heap for every line
					p.readErr.Store(&readErr)
				} else {
					p.endModels()
				}
				return
			}
			if p.checkID != nil {
				if err := p.checkID(it.ID); err != nil {
					p.counts.bad.Add(1)
					p.reportBad(input.BadLine{Line: it.Line, Reason: err.Error(), ID: it.ID})
					continue
				}
			}
			p.models.see(p, it) // resumed or not: a line of the input
			switch sight, first := p.seen.See(it.ID, it.Line); sight {
			case journal.SightRepeated:
				if p.reader.Format() == input.FormatURLs {
					// A URL listed twice: its id is the URL, so it is
					// the same fetch; run once, counted, not an error.
					p.counts.repeated.Add(1)
					continue
				}
				p.counts.bad.Add(1)
				// Not under its id: the first line ran, and may have
				// succeeded (BadLine.RepeatedID).
				p.reportBad(input.BadLine{Line: it.Line, Reason: fmt.Sprintf("repeated id %q (first on line %d)", it.ID, first), RepeatedID: it.ID})
				continue
			case journal.SightResumed:
				if p.resumable(it) {
					p.counts.resumed.Add(1)
					continue
				}
			}
			p.counts.read.Add(1)
			if !yield(it) {
				return
			}
		}
	}
}
