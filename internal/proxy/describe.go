package proxy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sluicehq/sluice"
)

// DescribeLimits names the limits a route is held to, for its start line:
// "concurrency 8 (adaptive), rate 10/s, tokens 40000/m", and the models
// with limits of their own. It is the proxy's twin of the runner's start
// line (internal/batch describeLimits); faces do not import each other,
// and the library has no Limits.String yet.
func DescribeLimits(r Route) string {
	s := describeLimits(r.Limits)
	if len(r.Models) > 0 {
		var ms []string
		for _, name := range slices.Sorted(maps.Keys(r.Models)) {
			ms = append(ms, name+": "+describeLimits(r.Models[name]))
		}
		s += "; " + strings.Join(ms, "; ")
	}
	if r.PerKey {
		s += "; per API key"
	}
	return s
}

func describeLimits(l sluice.Limits) string {
	c := l.Concurrency
	if c <= 0 {
		c = sluice.DefaultConcurrency
	}
	parts := []string{fmt.Sprintf("concurrency %d", c)}
	if !l.FixedConcurrency {
		parts[0] += " (adaptive)"
	}
	if l.Rate.IsZero() {
		parts = append(parts, "rate learned from the API's headers")
	} else {
		parts = append(parts, "rate "+l.Rate.String())
		if l.Burst > 1 {
			parts = append(parts, fmt.Sprintf("burst %d", l.Burst))
		}
	}
	for _, r := range []struct {
		name string
		r    sluice.Rate
	}{{"window", l.Window}, {"tokens", l.Tokens}, {"input tokens", l.InputTokens}, {"output tokens", l.OutputTokens}} {
		if !r.r.IsZero() {
			parts = append(parts, r.name+" "+r.r.String())
		}
	}
	return strings.Join(parts, ", ")
}
