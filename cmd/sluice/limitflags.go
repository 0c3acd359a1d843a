package main

import (
	"fmt"
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
	concurrency  int
	rate, window string
	burst        int
	tokens       string
	inputTokens  string
	outputTokens string
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
	f.IntVarP(&l.concurrency, "concurrency", "c", sluice.DefaultConcurrency, "ceiling on calls in flight (adapts below it)")
	f.StringVar(&l.rate, "rate", "", "request rate, e.g. 50/s or 3000/m (default: none; learned from headers)")
	f.IntVar(&l.burst, "burst", 0, "allow bursts of up to N starts (default 1: evenly spaced)")
	f.StringVar(&l.window, "window", "", "strict quota: at most N in any window, e.g. 100/10s")
	f.StringVar(&l.tokens, "tokens", "", "token rate (estimated before, settled after), e.g. 40000/m")
	f.StringVar(&l.inputTokens, "input-tokens", "", "input-token rate, e.g. 40000/m")
	f.StringVar(&l.outputTokens, "output-tokens", "", "output-token rate, e.g. 8000/m")
	f.IntVar(&l.retries, "retries", sluice.DefaultMaxAttempts-1, "retries per item for transient errors (0: none)")
	f.DurationVar(&l.timeout, "timeout", 0, "per attempt, until the response starts (default 10m with --api, 60s otherwise)")
	f.DurationVar(&l.maxRetryWait, "max-retry-wait", sluice.DefaultMaxPause, "cap on a single honoured Retry-After")
}

// limits returns the Limits the flags ask for, or a usage error naming the
// flag and value that are wrong.
func (l *limitFlags) limits() (sluice.Limits, error) {
	lim := sluice.Limits{Concurrency: l.concurrency, Burst: l.burst, MaxPause: l.maxRetryWait}
	if l.concurrency < 1 {
		return sluice.Limits{}, usageError("--concurrency %d: want at least 1", l.concurrency)
	}
	for _, f := range []struct {
		name, value, example string
		into                 *sluice.Rate
	}{
		{"rate", l.rate, "50/s", &lim.Rate},
		{"window", l.window, "100/10s", &lim.Window},
		{"tokens", l.tokens, "40000/m", &lim.Tokens},
		{"input-tokens", l.inputTokens, "40000/m", &lim.InputTokens},
		{"output-tokens", l.outputTokens, "8000/m", &lim.OutputTokens},
	} {
		if f.value == "" {
			continue
		}
		if !strings.Contains(f.value, "/") {
			return sluice.Limits{}, usageError("--%s %q: want COUNT/PERIOD such as %s", f.name, f.value, f.example)
		}
		r, err := sluice.ParseRate(f.value)
		if err != nil {
			return sluice.Limits{}, flagValueError(f.name, f.value, err)
		}
		*f.into = r
	}
	return lim, nil
}

// flagValueError is a usage error saying once which flag and value are
// wrong, and why: `--rate "0/s": count "0" must be positive`. A parser's
// error names the value too (`sluice: rate "0/s": …: bad rate`); only its
// reason is kept, so that the line does not say everything twice.
func flagValueError(flag, value string, err error) error {
	why := strings.TrimSuffix(err.Error(), ": "+sluice.ErrBadRate.Error())
	if _, after, ok := strings.Cut(why, fmt.Sprintf("%q: ", value)); ok {
		why = after
	}
	return usageError("--%s %q: %s", flag, value, why)
}
