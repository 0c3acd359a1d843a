package batch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"unicode"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/input"
)

// A limit for one model (--rate MODEL=R) whose name no line of the input
// uses limits nothing: with a one-character typo (claude-haiku-4.5 for
// claude-haiku-4-5) the model meant runs at the run's limits, and nothing
// said so (an outside tester's finding). The run says so, as a warning
// (the input need not use every model configured): the dry run in its
// report, a run on stderr before anything is sent when the start of the
// input it has read is all of it, or when a model there differs from the
// name only by punctuation or case, and else once the input is read to
// its end.
//
// Whether a line uses a name is the gates' own matching: the model
// sluice.KeyByModel finds in the line's request, covered by the name as
// sluice.ModelLimits.Name says, which is what ModelLimits.Key does.

// maxModelsKept bounds the models of the input kept for the warning.
const maxModelsKept = 1000

// modelsShown is how many of them a warning names.
const modelsShown = 5

// modelUse follows which names of Config.ModelLimits the input's items
// use. It is used by the one goroutine reading the input.
type modelUse struct {
	names *sluice.ModelLimits // Models' names only: Key and Name read no limits
	used  map[string]bool     // the names some item uses
	left  int                 // the names no item uses yet; 0 ends the looking
	// models are the models the items name, up to maxModelsKept; more
	// says there were others.
	models map[string]bool
	more   bool
	// near is, for a name no item uses yet, a model of the input it
	// differs from only by punctuation or case (or a name that would
	// cover one, so spelt).
	near map[string]string
	// taken is, for a name no item uses yet, a model of the input it
	// covers that a longer name takes (claude-haiku-4-5 from
	// claude-haiku-4, when both are given), with that name.
	taken map[string][2]string
	lines int  // the line of the last item looked at
	ended bool // the input was read to its end
}

// newModelUse returns a modelUse for the names in limits, nil for none.
func newModelUse(limits map[string]sluice.Limits) *modelUse {
	if len(limits) == 0 {
		return nil
	}
	return &modelUse{
		names:  &sluice.ModelLimits{Models: limits},
		used:   make(map[string]bool, len(limits)),
		left:   len(limits),
		models: make(map[string]bool),
		near:   make(map[string]string),
		taken:  make(map[string][2]string),
	}
}

// see records the model of an item's request, when a name is still
// unused: past that, the look costs nothing.
func (u *modelUse) see(p *plan, it input.Item) {
	if u == nil || u.left == 0 {
		return
	}
	u.lines = it.Line
	req, err := p.request(context.Background(), it)
	if err != nil {
		return // the run reports it; it goes through no gate
	}
	_, model, ok := strings.Cut(sluice.KeyByModel(req), "/")
	if !ok {
		return // names no model: the gate is the host's, limited by the run's limits
	}
	name := u.names.Name(model)
	if name != "" && !u.used[name] {
		u.used[name] = true
		u.left--
		delete(u.near, name)
		delete(u.taken, name)
	}
	if u.models[model] {
		return
	}
	if len(u.models) >= maxModelsKept {
		u.more = true
	} else {
		u.models[model] = true
	}
	for other := range u.names.Models {
		if u.used[other] {
			continue
		}
		if _, found := u.near[other]; !found {
			if s := nearModel(other, model); s != "" && s != other {
				u.near[other] = s
			}
		}
		if _, found := u.taken[other]; !found && name != "" && covers(other, model) {
			u.taken[other] = [2]string{model, name}
		}
	}
}

// unused returns the names no item uses, sorted.
func (u *modelUse) unused() []string {
	if u == nil {
		return nil
	}
	var names []string
	for name := range u.names.Models {
		if !u.used[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// nearModel returns the name that covers model (model itself, or a
// start of it the rest of which is a version, a date or "-latest") that
// name differs from only by punctuation or case; "" when there is none.
func nearModel(name, model string) string {
	want := fold(name)
	if want == "" {
		return ""
	}
	for i := len(model); i > 0; i-- {
		if i < len(model) && !covers(model[:i], model) {
			continue
		}
		if fold(model[:i]) == want {
			return model[:i]
		}
	}
	return ""
}

// covers reports whether name covers model, as sluice.ModelLimits.Name
// decides it.
func covers(name, model string) bool {
	m := sluice.ModelLimits{Models: map[string]sluice.Limits{name: {}}}
	return m.Name(model) == name
}

// fold is s in lower case without its punctuation: the letters and digits.
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

// modelWarning says that name's limits are unused: in the first lines
// of the input, or (first 0) in all of it.
func (p *plan) modelWarning(u *modelUse, name string, first int) string {
	var b strings.Builder
	flags := p.cfg.ModelLimitFlags[name]
	if len(flags) == 0 {
		flags = []string{"the limits of " + name}
	}
	b.WriteString(strings.Join(flags, ", "))
	if first > 0 {
		fmt.Fprintf(&b, ": none of the first %d lines of %s goes by these limits (", first, p.inputName())
	} else {
		fmt.Fprintf(&b, ": no line of %s goes by these limits (", p.inputName())
	}
	if t, ok := u.taken[name]; ok {
		fmt.Fprintf(&b, "%s has those of %s, the longest name covering it", t[0], t[1])
	} else {
		fmt.Fprintf(&b, "none has model %s or a version of it", name)
	}
	if first > 0 {
		b.WriteString("); they use ")
	} else {
		b.WriteString("); the lines use ")
	}
	models := slices.Sorted(maps.Keys(u.models))
	switch {
	case len(models) == 0:
		b.WriteString("no model (no \"model\" in their bodies)")
	case len(models) <= modelsShown && !u.more:
		b.WriteString(strings.Join(models, ", "))
	default:
		count := fmt.Sprint(len(models))
		if u.more {
			count = "over " + count
		}
		fmt.Fprintf(&b, "%s models: %s and ", count, strings.Join(models[:modelsShown], ", "))
		if u.more {
			b.WriteString("more")
		} else {
			fmt.Fprintf(&b, "%d more", len(models)-modelsShown)
		}
	}
	if s := u.near[name]; s != "" {
		fmt.Fprintf(&b, "; did you mean %s?", s)
	}
	return b.String()
}

// warnModelsEarly looks, before anything is sent, at the items in window,
// the start of the input as already read: a name none of them uses is
// warned of now when window is the whole input, or when one of their
// models is the name with other punctuation or case (a typo, surely);
// the other names wait for the input's end (endModels).
func (p *plan) warnModelsEarly(window []byte, opts input.Options) {
	if p.models == nil {
		return
	}
	whole := false
	if f, ok := p.input.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() == int64(len(window)) {
			whole = true
		}
	}
	if !whole {
		if i := bytes.LastIndexByte(window, '\n'); i >= 0 {
			window = window[:i+1] // whole lines only
		} else {
			return
		}
	}
	opts.Format = p.reader.Format()
	r, err := input.NewReader(bytes.NewReader(window), opts)
	if err != nil {
		return
	}
	u := newModelUse(p.cfg.ModelLimits)
	for u.left > 0 {
		it, err := r.Next()
		if bad := (*input.BadLine)(nil); errors.As(err, &bad) {
			continue
		}
		if err != nil {
			break
		}
		u.see(p, it)
	}
	for _, name := range u.unused() {
		switch {
		case whole:
			fmt.Fprintf(p.stderr, "sluice: warning: %s\n", p.modelWarning(u, name, 0))
		case u.near[name] != "" && u.lines > 0:
			fmt.Fprintf(p.stderr, "sluice: warning: %s\n", p.modelWarning(u, name, u.lines))
		}
	}
	if whole {
		p.models = nil // all is known: the run's reading need not look
	}
}

// endModels is called when the input has been read to its end: a run
// warns of the names no item used (the dry run, in its report).
func (p *plan) endModels() {
	u := p.models
	if u == nil {
		return
	}
	u.ended = true
	if p.cfg.DryRun {
		return // in its report (dryRun)
	}
	for _, name := range u.unused() {
		fmt.Fprintf(p.stderr, "sluice: warning: %s\n", p.modelWarning(u, name, 0))
	}
}

// reportModels writes the dry run's warnings to w.
func (p *plan) reportModels(w io.Writer) {
	if p.models == nil || !p.models.ended {
		return
	}
	for _, name := range p.models.unused() {
		fmt.Fprintf(w, "warning: %s\n", p.modelWarning(p.models, name, 0))
	}
}
