// Command ratio summarises `go test -bench` output read from standard
// input: for each benchmark, the median ns/op and allocs/op over its runs,
// then, for every parent benchmark with a sluice sub-benchmark, the ratio
// of its median ns/op to each sibling's (sluice/xrate, sluice/naive-wait…).
//
//	go test -run '^$' -bench . -benchmem -count 6 ./... | go run ./cmd/ratio
//
// A ratio below 1 means sluice is faster. Medians, not means, because a
// shared machine adds outliers on one side only.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ratio:", err)
		os.Exit(1)
	}
}

// samples are one benchmark's measurements, one per run.
type samples struct {
	ns, allocs []float64
}

func run(r io.Reader, w io.Writer) error {
	byName := map[string]*samples{}
	var names []string // in the order they first appear
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, ns, allocs, ok := parseLine(sc.Text())
		if !ok {
			continue
		}
		s := byName[name]
		if s == nil {
			s = &samples{}
			byName[name] = s
			names = append(names, name)
		}
		s.ns = append(s.ns, ns)
		if allocs >= 0 {
			s.allocs = append(s.allocs, allocs)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(names) == 0 {
		return errors.New("no benchmark results on standard input")
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\tns/op (median)\tallocs/op\truns")
	for _, name := range names {
		s := byName[name]
		allocs := "-" // run without -benchmem
		if len(s.allocs) > 0 {
			allocs = strconv.FormatFloat(median(s.allocs), 'f', -1, 64)
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%s\t%d\n", name, median(s.ns), allocs, len(s.ns))
	}
	fmt.Fprintln(tw, "\nsluice ÷ sibling\tratio of medians")
	for _, name := range names {
		parent, ok := strings.CutSuffix(name, "/sluice")
		if !ok {
			continue
		}
		for _, other := range names {
			sibling, ok := strings.CutPrefix(other, parent+"/")
			if !ok || other == name || strings.Contains(sibling, "/") {
				continue
			}
			fmt.Fprintf(tw, "%s\tsluice/%s\t%.2f\n", parent, sibling, median(byName[name].ns)/median(byName[other].ns))
		}
	}
	return tw.Flush()
}

// parseLine reads one result line of `go test -bench`, such as
//
//	BenchmarkAllow/sluice-2  26084977  45.99 ns/op  0 B/op  0 allocs/op
//
// and returns the name without its -GOMAXPROCS suffix, ns/op, and
// allocs/op or -1 when the line has none. ok is false for any other line.
func parseLine(line string) (name string, ns, allocs float64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return "", 0, 0, false
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return "", 0, 0, false // not a result: the iteration count is missing
	}
	name = f[0]
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	ns, allocs = -1, -1
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return "", 0, 0, false
		}
		switch f[i+1] {
		case "ns/op":
			ns = v
		case "allocs/op":
			allocs = v
		}
	}
	if ns < 0 {
		return "", 0, 0, false
	}
	return name, ns, allocs, true
}

// median returns the middle of xs, or the mean of the two middle values
// when there is an even number. xs must not be empty; it is not modified.
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
