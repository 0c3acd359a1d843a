package sluice

import (
	"net/http"
	"strings"
)

// ModelLimits gives some models of an LLM API limits of their own, and
// every other model Default, each model in a gate of its own, as the APIs
// count them: set a Transport's Key to m.Key and its LimitsFor to
// m.LimitsFor. It is how `sluice run --rate MODEL=RATE` and the proxy's
// per-model limits reach the Transport.
//
// A name in Models covers the model of that name, its versions and dates
// (the name followed by '-' and a digit) and its "-latest" alias: gpt-4o
// covers gpt-4o-2024-08-06 but not gpt-4o-mini; claude-haiku-4 covers
// claude-haiku-4-5; claude-3-5-haiku covers claude-3-5-haiku-latest, the
// alias Anthropic counts as the model it names. The longest name that covers a model wins, and the
// versions it covers share one gate and one set of limits.
//
// The zero ModelLimits is KeyByModel with the zero Limits for every
// model. Set the fields before use and leave them alone after; its
// methods are then safe for concurrent use. Key costs KeyByModel's scan
// plus, when Models is not empty, a look-up and a pass over the names.
type ModelLimits struct {
	// Default are the limits of the models not in Models.
	Default Limits
	// Models are the limits of the models given their own, by the name
	// the user gave.
	Models map[string]Limits
}

// Key is a Transport.Key: KeyByModel, with a model covered by a name in
// m.Models keyed by that name.
func (m *ModelLimits) Key(req *http.Request) string {
	key := KeyByModel(req)
	host, model, ok := strings.Cut(key, "/")
	if !ok || len(m.Models) == 0 {
		return key
	}
	if name := m.Name(model); name != "" {
		return host + "/" + name
	}
	return key
}

// LimitsFor is a Transport.LimitsFor for the keys m.Key returns: the
// limits of the key's model, else m.Default.
func (m *ModelLimits) LimitsFor(key string) Limits {
	if _, model, ok := strings.Cut(key, "/"); ok {
		if l, ok := m.Models[model]; ok {
			return l
		}
	}
	return m.Default
}

// Name returns the name in m.Models that covers model, "" when none does.
func (m *ModelLimits) Name(model string) string {
	if _, ok := m.Models[model]; ok {
		return model
	}
	best := ""
	for name := range m.Models {
		rest, ok := strings.CutPrefix(model, name)
		if ok && coversSuffix(rest) && len(name) > len(best) {
			best = name
		}
	}
	return best
}

// coversSuffix reports whether a model named name+rest is a version, a
// date or the "-latest" alias of name.
func coversSuffix(rest string) bool {
	if rest == "-latest" {
		return true
	}
	return len(rest) >= 2 && rest[0] == '-' && rest[1] >= '0' && rest[1] <= '9'
}
