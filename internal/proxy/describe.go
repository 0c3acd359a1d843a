package proxy

import (
	"maps"
	"slices"
	"strings"

	"github.com/sluicehq/sluice"
)

// DescribeLimits names the limits a route is held to, for its start line:
// "concurrency 8 (adaptive), rate 10/s, tokens 40000/m", and the models
// with limits of their own, each as sluice.Limits.String says them, as
// the runner's start line does.
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

func describeLimits(l sluice.Limits) string { return l.String() }
