package demo

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Print writes the report as a side-by-side table with a line of
// explanation.
func (r Report) Print(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "%d calls to a mock LLM API allowing %v requests per %v and %d at once, answering in %v on average.\n",
		c.Requests, c.Rate.N, c.Rate.Per, c.Concurrency, c.Latency.Mean().Round(time.Millisecond))
	fmt.Fprintf(w, "Physical minimum: %v.\n\n", r.Minimum.Round(10*time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tnaive\tsluice\t")
	row := func(label string, f func(Side) string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", label, f(r.Naive), f(r.Sluice))
	}
	row("succeeded", func(s Side) string { return fmt.Sprint(s.Succeeded) })
	row("failed", func(s Side) string { return fmt.Sprint(s.Failed) })
	row("429s the API sent", func(s Side) string { return fmt.Sprint(s.Throttled) })
	row("peak connections open", func(s Side) string { return fmt.Sprint(s.PeakConnections) })
	row("peak calls served at once", func(s Side) string { return fmt.Sprint(s.PeakConcurrency) })
	row("elapsed", func(s Side) string { return s.Elapsed.Round(10 * time.Millisecond).String() })
	row("elapsed ÷ minimum", func(s Side) string {
		if r.Minimum <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", float64(s.Elapsed)/float64(r.Minimum))
	})
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "naive: one goroutine per call, a plain http.Client with the SDKs' default 2 retries.")
	fmt.Fprintln(w, "sluice: the same goroutines and client, with Transport: &sluice.Transport{} and no limits given;")
	fmt.Fprintln(w, "        it learned the pace from the API's rate-limit headers and found the concurrency itself.")
}
