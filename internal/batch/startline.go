package batch

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// baseEnv is the variable the official SDKs read a preset's base URL
// from, as they do: --base-url beats it, and it beats the preset's default.
var baseEnv = map[string]string{"anthropic": "ANTHROPIC_BASE_URL", "openai": "OPENAI_BASE_URL"}

// baseURL returns the base URL a run's relative URLs and batch lines go
// to, and where it came from ("--base-url", a variable's name, or the
// preset's default); "" when there is none. With or without a trailing
// /v1 (as the SDKs take it), input.Options joins it to the lines' /v1
// paths without doubling it.
func (p *plan) baseURL() (base, from string) {
	switch {
	case p.cfg.BaseURL != "":
		return p.cfg.BaseURL, "--base-url"
	case p.preset == nil:
		return "", ""
	}
	if env := baseEnv[p.preset.name]; p.cfg.getenv(env) != "" {
		return p.cfg.getenv(env), env
	}
	return p.preset.baseURL, "the --api " + p.preset.name + " default"
}

// describe is the run's start line, printed once before anything is sent
// (and by --dry-run): the input and its format, where the calls go, where
// the results go (a database's password hidden), which variables
// authenticate them (names only: never a value), the limits in force,
// and the store they are shared through, if any.
func (p *plan) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s lines) to ", p.inputName(), p.reader.Format())
	if p.base != "" {
		fmt.Fprintf(&b, "%s (from %s)", p.base, p.baseFrom)
	} else {
		b.WriteString("the URLs in the input")
	}
	fmt.Fprintf(&b, "; results to %s", p.destName())
	fmt.Fprintf(&b, "; auth: %s; limits: %s", p.authSource(), describeLimits(p.cfg))
	if st, ok := p.cfg.Limits.Store.(fmt.Stringer); ok {
		fmt.Fprintf(&b, "; shared through %s", st) // redis.Store: where, as what, which mode; never a password
	}
	return b.String()
}

// authSource names where the requests' credentials come from: the
// variables named by the preset and by -H, or the -H headers given as
// text. It never includes a value.
func (p *plan) authSource() string {
	var parts []string
	if p.preset != nil {
		if p.cfg.getenv(p.preset.keyEnv) == "" {
			parts = append(parts, p.preset.keyEnv+" (unset)")
		} else {
			parts = append(parts, p.preset.keyEnv)
		}
	}
	for _, kv := range p.cfg.Headers {
		k, v, _ := strings.Cut(kv, ":")
		k = strings.TrimSpace(k)
		refs := envRef.FindAllStringSubmatch(v, -1)
		if len(refs) == 0 {
			if isAuthHeader(k) {
				parts = append(parts, "-H "+k+" (as given)")
			}
			continue
		}
		for _, m := range refs {
			name := m[1]
			if p.cfg.getenv(name) == "" {
				name += " (unset)"
			}
			parts = append(parts, k+" from "+name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// isAuthHeader reports whether a header named k usually carries a
// credential.
func isAuthHeader(k string) bool {
	k = strings.ToLower(k)
	return k == "authorization" || strings.Contains(k, "key") || strings.Contains(k, "token") || strings.Contains(k, "auth")
}

// describeLimits names the limits a run is held to, with each default
// filled in as the runner applies it.
func describeLimits(cfg *Config) string {
	l := cfg.Limits
	parts := []string{l.String()}
	if cfg.API != "" {
		// A gate per model (plan.go), as the APIs count them: the
		// limits are each model's, not the run's in all.
		parts[0] += " for each model"
	}
	retries := sluice.DefaultMaxAttempts - 1
	switch {
	case cfg.Retries < 0:
		retries = 0
	case cfg.Retries > 0:
		retries = cfg.Retries
	}
	parts = append(parts, fmt.Sprintf("%d retries", retries))
	wait := l.MaxPause
	if wait == 0 {
		wait = cfg.MaxRetryWait
	}
	if wait == 0 {
		wait = sluice.DefaultMaxPause
	}
	parts = append(parts, "Retry-After honoured up to "+wait.Round(time.Second).String())
	s := strings.Join(parts, ", ")
	// The models given limits of their own (--rate MODEL=5/s), each as
	// the proxy's start line names them: a run paced by a model's limits
	// must not read as if only the run's applied.
	for _, name := range slices.Sorted(maps.Keys(cfg.ModelLimits)) {
		s += "; " + name + ": " + cfg.ModelLimits[name].String()
	}
	return s
}
