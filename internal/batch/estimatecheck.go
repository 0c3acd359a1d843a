package batch

import (
	"errors"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/input"
)

// estimateCheck returns the input check (input.Options.Check) of a run
// that estimates its items' tokens, with --api or a token limit: an item
// whose body has a field the estimate refuses (a max_tokens of "ten" or
// -5, sluice.FieldError) is a bad line naming the field, reported by the
// dry run and the run alike, instead of being charged nothing (or the
// default) and sent. nil for a run that estimates nothing: its bodies
// need not be LLM requests at all.
func (p *plan) estimateCheck() func(input.Item) string {
	if p.preset == nil && len(tokenFlags(p.cfg.Limits)) == 0 {
		return nil
	}
	return func(it input.Item) string {
		if it.Body == nil {
			return ""
		}
		path := ""
		if u := it.ParsedURL(); u != nil {
			path = u.Path
		}
		var bad *sluice.FieldError
		if _, err := sluice.Estimate(it.Method, path, it.Body); errors.As(err, &bad) {
			return bad.Field + ": " + bad.Value + ": want " + bad.Want
		}
		return ""
	}
}
