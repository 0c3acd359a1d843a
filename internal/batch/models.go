package batch

import "github.com/sluicehq/sluice"

// The LLM APIs limit each model separately, so a preset's requests go
// through a gate per model (item 12): its own limits, its own learned
// headers, its own pauses. Config.ModelLimits gives some models limits of
// their own; the others get Config.Limits, each in a gate of its own. The
// matching of names to models is sluice.ModelLimits, shared with the proxy.

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
