package batch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/input"
)

// dryRun reads the whole input, reports every bad line, and prints the
// plan as the run would carry it out: where the results go and what is
// there already, the items to run (not those an earlier run did with the
// same request), their estimated tokens, and the least time the limits
// allow them.
func (p *plan) dryRun(ctx context.Context) (Summary, error) {
	var in, out int64
	var misfit error // the first item that does not fit the options
	tooLarge := 0
	for it := range p.items(ctx) {
		if misfit == nil {
			misfit = p.checkItem(it)
		}
		var c sluice.Cost
		if p.preset != nil && it.Raw != nil {
			c = itemCost(it)
		} else if len(tokenFlags(p.cfg.Limits)) > 0 {
			path := ""
			if u := it.ParsedURL(); u != nil {
				path = u.Path
			}
			c, _ = sluice.EstimateCost(it.Method, path, it.Body)
		}
		if err := p.admissible(ctx, it, c); err != nil {
			// The run would fail it at once as fatal (execute.go): said
			// now, with its line, like a bad line; its tokens are never
			// spent, so the estimate and the least time leave it out.
			tooLarge++
			fmt.Fprintf(p.stderr, "%s: line %d: %v\n", p.inputName(), it.Line, err)
			continue
		}
		in += int64(c.InputTokens)
		out += int64(c.OutputTokens)
	}
	sum := p.finish(Summary{}, time.Now())
	sum.Failed = tooLarge
	if ctx.Err() != nil {
		// Its counts are of the lines read so far: said as a plan, they
		// read as the whole input's (an outside review: exit 0 and the
		// partial count after an interrupt).
		sum.Stopped = fmt.Errorf("interrupted after %d items and %d bad lines read: the plan is incomplete", sum.Items, sum.BadLines)
		return sum, fmt.Errorf("%w: dry run %w", ErrStopped, sum.Stopped)
	}
	if errp := p.readErr.Load(); errp != nil {
		return sum, fmt.Errorf("batch: reading %s: %w", p.inputName(), *errp)
	}
	if misfit != nil {
		return sum, misfit
	}
	w := p.cfg.Stdout
	fmt.Fprintf(w, "run: %s\n", p.describe())
	p.warnTwins()
	fmt.Fprintln(w, p.describeEarlier())
	fmt.Fprintf(w, "%s: %s input, %d items to run, %d bad lines\n", p.inputName(), p.reader.Format(), sum.Items, sum.BadLines)
	p.reportModels(w)
	if sum.Resumed > 0 || sum.Changed > 0 {
		fmt.Fprintln(w, p.describeResumed(sum))
	}
	if tooLarge > 0 {
		fmt.Fprintf(w, "%d items ask more than a limit could ever admit: the run would fail each at once (lower its max_tokens, or raise the limit)\n", tooLarge)
	}
	if in+out > 0 {
		fmt.Fprintf(w, "estimated tokens: %d input, %d output (at most)\n", in, out)
	}
	l := p.cfg.Limits
	least := time.Duration(0)
	for _, b := range []struct {
		r sluice.Rate
		n int64
	}{{l.Rate, int64(sum.Items - tooLarge)}, {l.Window, int64(sum.Items - tooLarge)}, {l.Tokens, in + out}, {l.InputTokens, in}, {l.OutputTokens, out}} {
		if !b.r.IsZero() && b.n > 0 {
			least = max(least, time.Duration(float64(b.n)/b.r.N*float64(b.r.Per)))
		}
	}
	switch {
	case sum.Items-tooLarge == 0:
		fmt.Fprintln(w, "nothing to run")
	case least >= time.Second:
		fmt.Fprintf(w, "least time at the given limits: %v\n", least.Round(time.Second))
	case least > 0:
		fmt.Fprintf(w, "least time at the given limits: %v\n", least.Round(time.Millisecond))
	default:
		fmt.Fprintln(w, "no rate given: the pace will be learned from the API's headers")
	}
	fmt.Fprintln(w, "dry run: nothing was sent")
	sum.Results, sum.Unrecorded = p.destName(), p.earlier.unrecorded
	return sum, p.earlier.err // the destination's: the run would fail with it
}

// describeResumed says what the run would do with the items an earlier
// run did: skip those whose request is the same, run the changed again
// (or keep them, with --skip-changed).
func (p *plan) describeResumed(sum Summary) string {
	skipped := sum.Resumed
	if p.cfg.SkipChanged {
		skipped -= sum.Changed // counted in Resumed too
	}
	parts := []string{fmt.Sprintf("%d done before, skipped", skipped)}
	switch {
	case sum.Changed > 0 && p.cfg.SkipChanged:
		parts = append(parts, fmt.Sprintf("%d changed since, kept (--skip-changed)", sum.Changed))
	case sum.Changed > 0:
		parts = append(parts, fmt.Sprintf("%d changed since, would run again", sum.Changed))
	}
	return p.inputName() + ": " + strings.Join(parts, "; ")
}

// admissible returns the error the gate of it's request would refuse it
// with at once, its cost c being more than one of its limits could ever
// admit (sluice.ErrTooLarge), or nil.
func (p *plan) admissible(ctx context.Context, it input.Item, c sluice.Cost) error {
	if c.Requests <= 1 && c.InputTokens <= 0 && c.OutputTokens <= 0 {
		return nil // every capacity is at least one request
	}
	req, err := p.request(ctx, it)
	if err != nil {
		return nil // not the question here: the run reports it
	}
	if p.tr == nil {
		p.tr = p.transport() // a dry run sends nothing: its gates are only asked
	}
	return p.tr.Gate(p.tr.KeyOf(req)).CheckCost(c)
}
