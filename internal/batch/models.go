package batch

import (
	"net/http"
	"strings"

	"github.com/sluicehq/sluice"
)

// The LLM APIs limit each model separately, so a preset's requests go
// through a gate per model (item 12): its own limits, its own learned
// headers, its own pauses. Config.ModelLimits gives some models limits of
// their own; the others get Config.Limits, each in a gate of its own.

// modelGates sorts a preset's requests into gates by model and builds each
// gate's limits.
type modelGates struct {
	limits sluice.Limits            // every model's, unless it has its own
	own    map[string]sluice.Limits // by the name the user gave
}

// key is the Transport's Key: sluice.KeyByModel, with a model the user
// named by a shorter name (claude-haiku-4 for claude-haiku-4-5-20251001)
// keyed by that name, so that the versions it covers share one gate and
// one set of limits, as the APIs count them.
func (m *modelGates) key(req *http.Request) string {
	key := sluice.KeyByModel(req)
	host, model, ok := strings.Cut(key, "/")
	if !ok || len(m.own) == 0 {
		return key
	}
	if name := m.named(model); name != "" {
		return host + "/" + name
	}
	return key
}

// limitsFor is the Transport's LimitsFor.
func (m *modelGates) limitsFor(key string) sluice.Limits {
	if _, model, ok := strings.Cut(key, "/"); ok {
		if l, ok := m.own[model]; ok {
			return l
		}
	}
	return m.limits
}

// named returns the name in m.own that covers model, "" when none does. A
// name covers the model of that name and its versions and dates: the name
// followed by '-' and a digit (gpt-4o covers gpt-4o-2024-08-06 but not
// gpt-4o-mini; claude-haiku-4 covers claude-haiku-4-5). The longest name
// that covers it wins.
func (m *modelGates) named(model string) string {
	if _, ok := m.own[model]; ok {
		return model
	}
	best := ""
	for name := range m.own {
		rest, ok := strings.CutPrefix(model, name)
		if ok && len(rest) >= 2 && rest[0] == '-' && rest[1] >= '0' && rest[1] <= '9' && len(name) > len(best) {
			best = name
		}
	}
	return best
}

// concurrency returns how many calls may be in flight at once over all
// the gates the run knows of: every named model's ceiling, plus the
// default one for the models not named.
func (c *Config) concurrency() int {
	n := c.Limits.Concurrency
	if n <= 0 {
		n = sluice.DefaultConcurrency
	}
	for _, l := range c.ModelLimits {
		if l.Concurrency > 0 {
			n += l.Concurrency
		} else {
			n += sluice.DefaultConcurrency
		}
	}
	return n
}
