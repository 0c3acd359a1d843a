package batch

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/journal"
)

// FailureReason is one reason items failed, for the summary.
type FailureReason struct {
	Reason  string // the class, and the status when there was one: "fatal (HTTP 401)"
	Count   int
	Example string // the message of the first item that failed so
	// Others is how many of Count said something other than Example:
	// failures of one class and status can differ (a 400 for a model's
	// name, another for a parameter), and the summary says so rather than
	// let one message stand for all (outside review).
	Others int
}

// topReasons is how many reasons the summary lists.
const topReasons = 5

// reasons tallies failures by reason. The run loop alone uses it.
type reasons map[string]*FailureReason

func (r reasons) add(class string, status int, message string) {
	key := class
	if status != 0 {
		key = fmt.Sprintf("%s (HTTP %d)", class, status)
	}
	if f, ok := r[key]; ok {
		f.Count++
		if message != f.Example {
			f.Others++
		}
		return
	}
	r[key] = &FailureReason{Reason: key, Count: 1, Example: message}
}

// top returns the most frequent reasons, at most n, most frequent first
// (ties in name order, so that the summary is the same every time).
func (r reasons) top(n int) []FailureReason {
	all := make([]FailureReason, 0, len(r))
	for _, f := range r {
		all = append(all, *f)
	}
	slices.SortFunc(all, func(a, b FailureReason) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})
	return all[:min(n, len(all))]
}

// countRest reads the rest of the input after a run stopped early,
// sending nothing and reporting nothing, so that the summary's counts
// cover the whole input: the items never read are not finished too. It
// reads only files: the rest of standard input may never come.
func (p *plan) countRest() {
	if p.cfg.Input == "-" || p.readErr.Load() != nil {
		return
	}
	for {
		it, err := p.reader.Next()
		if err != nil {
			if bad := (*input.BadLine)(nil); errors.As(err, &bad) {
				continue // reported when the rest is run
			}
			return
		}
		if p.checkID != nil && p.checkID(it.ID) != nil {
			continue // a bad line, as above
		}
		switch sight, _ := p.seen.See(it.ID, it.Line); sight {
		case journal.SightResumed:
			p.counts.resumed.Add(1)
		case journal.SightNew:
			p.counts.read.Add(1)
		}
	}
}

// WriteSummary writes what a run did, for a person, to w: the counts,
// why items failed (the top five reasons, each with an example), the
// retries and waits, the pace achieved, and where everything went.
func WriteSummary(w io.Writer, s Summary) {
	// Every count, always, in one order: scripts and tests read this line.
	fmt.Fprintf(w, "sluice: %d succeeded, %d failed, %d bad lines, %d skipped (done before), %d not finished\n",
		s.Succeeded, s.Failed, s.BadLines, s.Resumed, s.NotStarted)
	if len(s.Reasons) > 0 {
		fmt.Fprintln(w, "sluice: failed because:")
		listed := 0
		for _, r := range s.Reasons {
			fmt.Fprintf(w, "  %6d  %s: %s", r.Count, r.Reason, clip(r.Example, 100))
			if r.Others > 0 {
				fmt.Fprintf(w, " (%d of them with other messages)", r.Others)
			}
			fmt.Fprintln(w)
			listed += r.Count
		}
		if rest := s.Failed - listed; rest > 0 {
			fmt.Fprintf(w, "  %6d  other reasons (see the errors file)\n", rest)
		}
	}
	if s.Repeated > 0 {
		fmt.Fprintf(w, "sluice: %d %s an earlier URL of the list: each URL fetched once\n", s.Repeated, plural(s.Repeated, "line repeats", "lines repeat"))
	}
	fmt.Fprintf(w, "sluice: %d attempts (%d retries); %d answered 429; %d pauses asked by the API\n", s.Attempts, s.Retries, s.Throttled, s.Pauses)
	if s.BudgetWaits > 0 {
		fmt.Fprintf(w, "sluice: %d retries waited for the retry budget (the API failed many calls)\n", s.BudgetWaits)
	}
	if s.InputTokens+s.OutputTokens > 0 {
		fmt.Fprintf(w, "sluice: tokens: %d in, %d out\n", s.InputTokens, s.OutputTokens)
	}
	if s.Changed > 0 {
		what := "run again (--skip-changed keeps the earlier results)"
		if s.ChangedKept {
			what = "kept the earlier results (--skip-changed)"
		}
		fmt.Fprintf(w, "sluice: %d %s changed since the earlier result: %s\n", s.Changed, plural(s.Changed, "item", "items"), what)
	}
	if s.Superseded > 0 {
		fmt.Fprintf(w, "sluice: %d earlier %s, superseded, moved to %s\n", s.Superseded, plural(s.Superseded, "result", "results"), s.SupersededTo)
	}
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Succeeded+s.Failed) / s.Elapsed.Seconds()
	}
	fmt.Fprintf(w, "sluice: %s items/s over %v\n", perSecond(rate), s.Elapsed.Round(time.Millisecond))
	if s.Stopped != nil {
		fmt.Fprintf(w, "sluice: stopped early: %v; run the same command again to go on\n", s.Stopped)
	}
	fmt.Fprintf(w, "sluice: results in %s", s.Results)
	if s.Failed > 0 || s.BadLines > 0 { // bad lines are in the errors file too (issue 10, item 8)
		fmt.Fprintf(w, ", failures in %s", s.Errors)
	}
	fmt.Fprintln(w)
}

// plural is one when n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// clip shortens s to n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
