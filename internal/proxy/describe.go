package proxy

import (
	"maps"
	"slices"
	"strings"
)

// DescribeLimits names the limits a route is held to, for its start line:
// "concurrency 8 (adaptive), rate 10/s, tokens 40000/m", and the models
// with limits of their own, each as sluice.Limits.String says them, as
// the runner's start line does.
func DescribeLimits(r Route) string {
	s := r.Limits.String()
	if r.Preset.llm() {
		// The APIs count each model apart, and so does the route: 50/s
		// is 50/s for every model, not for them all (outside review).
		s += " for each model"
	}
	if len(r.Models) > 0 {
		var ms []string
		for _, name := range slices.Sorted(maps.Keys(r.Models)) {
			ms = append(ms, name+": "+r.Models[name].String())
		}
		s += "; " + strings.Join(ms, "; ")
	}
	if r.PerKey {
		s += "; per API key"
	}
	return s
}
