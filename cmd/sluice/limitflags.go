package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/sluicehq/sluice"
)

// limitFlags are the flags that say how calls to an API are limited and
// retried, parsed once here for every command that sends calls (run today;
// the proxy and the MCP tools next), as restic's Options.AddFlags does.
//
// Each default is written once, in the library: the flags that show one
// take it from sluice.DefaultConcurrency, sluice.DefaultMaxPause and
// sluice.DefaultMaxAttempts; --burst is 0 unless given, which the library
// reads as 1 (evenly spaced), and --timeout is 0, which each command reads
// as its own default (run: 10m with --api, 60s otherwise).
type limitFlags struct {
	// concurrency, rate, window and the token rates take a value for
	// every model and, repeated, MODEL=VALUE for one model (item 12).
	concurrency  perModel
	rate, window perModel
	burst        int
	tokens       perModel
	inputTokens  perModel
	outputTokens perModel
	maxRetryWait time.Duration
	// retries is how many times a failed call is tried again: 0 means
	// none, and so does a negative number.
	retries int
	// timeout bounds one attempt until the response starts; 0 leaves it
	// to the command.
	timeout time.Duration
}

// add defines the flags on f.
func (l *limitFlags) add(f *pflag.FlagSet) {
	l.concurrency = perModel{kind: "int", def: strconv.Itoa(sluice.DefaultConcurrency)}
	f.VarP(&l.concurrency, "concurrency", "c", "ceiling on calls in flight (adapts below it), as `[MODEL=]N`")
	f.Var(&l.rate, "rate", "request rate as `[MODEL=]RATE`, e.g. 50/s or claude-haiku-4=4000/m (default: none; learned from headers)")
	f.IntVar(&l.burst, "burst", 0, "allow bursts of up to N starts (default 1: evenly spaced)")
	f.Var(&l.window, "window", "strict quota: at most N in any window, as `[MODEL=]RATE`, e.g. 100/10s")
	f.Var(&l.tokens, "tokens", "token rate (estimated before, settled after), as `[MODEL=]RATE`, e.g. 40000/m")
	f.Var(&l.inputTokens, "input-tokens", "input-token rate as `[MODEL=]RATE`, e.g. 40000/m")
	f.Var(&l.outputTokens, "output-tokens", "output-token rate as `[MODEL=]RATE`, e.g. 8000/m")
	f.IntVar(&l.retries, "retries", sluice.DefaultMaxAttempts-1, "retries per item for transient errors (0: none)")
	f.DurationVar(&l.timeout, "timeout", 0, "per attempt, until the response starts (default 10m with --api, 60s otherwise)")
	f.DurationVar(&l.maxRetryWait, "max-retry-wait", sluice.DefaultMaxPause, "cap on a single honoured Retry-After")
}

// limits returns the Limits the flags ask for, or a usage error naming the
// flag and value that are wrong. They are every model's, except where a
// model is given its own (see modelLimits).
func (l *limitFlags) limits() (sluice.Limits, error) {
	// Every value is checked here, before anything is sent: a --burst
	// -1 that only the gate refused failed every item as transient (exit
	// 1, each error line saying "bad limits"), and a --timeout -1s timed
	// out every attempt at once and retried it (outside review).
	switch {
	case l.retries < 0:
		return sluice.Limits{}, usageError("--retries %d: want 0 or more", l.retries)
	case l.burst < 0:
		return sluice.Limits{}, usageError("--burst %d: want 0 (evenly spaced) or more", l.burst)
	case l.timeout < 0:
		return sluice.Limits{}, usageError("--timeout %v: want 0 (the default) or more", l.timeout)
	case l.maxRetryWait < 0:
		return sluice.Limits{}, usageError("--max-retry-wait %v: want 0 (the default) or more", l.maxRetryWait)
	}
	lim := sluice.Limits{Burst: l.burst, MaxPause: l.maxRetryWait}
	if err := l.apply(&lim, ""); err != nil {
		return sluice.Limits{}, err
	}
	if err := lim.Validate(); err != nil {
		return sluice.Limits{}, usageError("%v", err)
	}
	return lim, nil
}

// modelLimits returns the Limits of each model given a value of its own
// (--rate MODEL=RATE): def, the limits of every model, with the model's
// own values in place of its defaults. It returns nil when no flag names
// a model.
func (l *limitFlags) modelLimits(def sluice.Limits) (map[string]sluice.Limits, error) {
	var out map[string]sluice.Limits
	for _, f := range l.perModelFlags() {
		for _, model := range f.value.order {
			if out == nil {
				out = make(map[string]sluice.Limits)
			}
			if _, ok := out[model]; ok {
				continue
			}
			lim := def
			if err := l.apply(&lim, model); err != nil {
				return nil, err
			}
			out[model] = lim
		}
	}
	return out, nil
}

// modelFlags returns, for each model given a value of its own, the flags
// that gave it, as "--rate MODEL=RATE", in the order of perModelFlags:
// batch.Config.ModelLimitFlags, for the warning that no line uses it.
func (l *limitFlags) modelFlags() map[string][]string {
	var out map[string][]string
	for _, f := range l.perModelFlags() {
		for _, model := range f.value.order {
			if out == nil {
				out = make(map[string][]string)
			}
			out[model] = append(out[model], "--"+f.name+" "+model+"="+f.value.models[model])
		}
	}
	return out
}

// namedFlag is a per-model flag with what it sets.
type namedFlag struct {
	name, example string
	value         *perModel
	into          func(*sluice.Limits) *sluice.Rate // nil for concurrency
}

func (l *limitFlags) perModelFlags() []namedFlag {
	return []namedFlag{
		{"concurrency", "8", &l.concurrency, nil},
		{"rate", "50/s", &l.rate, func(x *sluice.Limits) *sluice.Rate { return &x.Rate }},
		{"window", "100/10s", &l.window, func(x *sluice.Limits) *sluice.Rate { return &x.Window }},
		{"tokens", "40000/m", &l.tokens, func(x *sluice.Limits) *sluice.Rate { return &x.Tokens }},
		{"input-tokens", "40000/m", &l.inputTokens, func(x *sluice.Limits) *sluice.Rate { return &x.InputTokens }},
		{"output-tokens", "8000/m", &l.outputTokens, func(x *sluice.Limits) *sluice.Rate { return &x.OutputTokens }},
	}
}

// apply sets in lim the values the flags give model ("" for every
// model's); a model's flag not given leaves lim's value.
func (l *limitFlags) apply(lim *sluice.Limits, model string) error {
	for _, f := range l.perModelFlags() {
		value, ok := f.value.def, model == ""
		if model != "" {
			value, ok = f.value.models[model]
		}
		if !ok || value == "" {
			continue
		}
		shown := value // as the user wrote it
		if model != "" {
			shown = model + "=" + value
		}
		if f.into == nil {
			n, err := strconv.Atoi(value)
			if err != nil || n < 1 {
				if model == "" && err == nil {
					return usageError("--%s %d: want at least 1", f.name, n)
				}
				return usageError("--%s %q: want a number of calls, at least 1", f.name, shown)
			}
			lim.Concurrency = n
			continue
		}
		if !strings.Contains(value, "/") {
			return usageError("--%s %q: want COUNT/PERIOD such as %s", f.name, shown, f.example)
		}
		r, err := sluice.ParseRate(value)
		if err != nil {
			return usageError("--%s %q: %s", f.name, shown, rateWhy(value, err))
		}
		*f.into(lim) = r
	}
	return nil
}

// perModel is a flag value given for every model (VALUE) or, repeated,
// for one model (MODEL=VALUE); the last of each wins. MODEL is the
// request body's "model" or its start up to a '-' (see batch.Config.ModelLimits).
type perModel struct {
	kind string // the type shown in help; "" means string
	def  string
	// name reads MODEL into the one spelling it is keyed by, or refuses
	// it; nil keeps it as given. sluice mcp's keys are hosts (mcp.HostName).
	name   func(string) (string, error)
	models map[string]string
	order  []string // the models in the order first given
}

func (p *perModel) String() string { return p.def }

func (p *perModel) Type() string {
	if p.kind == "" {
		return "string"
	}
	return p.kind
}

// Set takes VALUE or MODEL=VALUE; the value itself is checked by limits,
// where the error can name the flag.
func (p *perModel) Set(s string) error {
	model, value, ok := strings.Cut(s, "=")
	if !ok {
		p.def = s
		return nil
	}
	if model = strings.TrimSpace(model); model == "" {
		return fmt.Errorf("%q: want VALUE or MODEL=VALUE, the model named", s)
	}
	if strings.TrimSpace(value) == "" {
		return fmt.Errorf("%q: want MODEL=VALUE, a value after =", s)
	}
	if p.name != nil {
		var err error
		if model, err = p.name(model); err != nil {
			return fmt.Errorf("%q: %v", s, err)
		}
	}
	if p.models == nil {
		p.models = make(map[string]string)
	}
	if _, seen := p.models[model]; !seen {
		p.order = append(p.order, model)
	}
	p.models[model] = value
	return nil
}

// flagValueError is a usage error saying once which flag and value are
// wrong, and why: `--rate "0/s": count "0" must be positive`. A parser's
// error names the value too (`sluice: rate "0/s": …: bad rate`); only its
// reason is kept, so that the line does not say everything twice.
func flagValueError(flag, value string, err error) error {
	return usageError("--%s %q: %s", flag, value, rateWhy(value, err))
}

// rateWhy is the reason a parser gives for refusing value, without the
// value and the sentinel it repeats.
func rateWhy(value string, err error) string {
	why := strings.TrimSuffix(err.Error(), ": "+sluice.ErrBadRate.Error())
	if _, after, ok := strings.Cut(why, fmt.Sprintf("%q: ", value)); ok {
		why = after
	}
	return why
}
