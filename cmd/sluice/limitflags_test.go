package main

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/sluicehq/sluice"
)

func TestLimitFlags(t *testing.T) {
	defaults := sluice.Limits{Concurrency: sluice.DefaultConcurrency, MaxPause: sluice.DefaultMaxPause}
	with := func(f func(*sluice.Limits)) sluice.Limits {
		l := defaults
		f(&l)
		return l
	}
	tests := []struct {
		args        []string
		want        sluice.Limits
		wantRetries int
		wantTimeout time.Duration
		wantErr     string // the whole message, when the flags are wrong
	}{
		{args: nil, want: defaults, wantRetries: sluice.DefaultMaxAttempts - 1},
		{args: []string{"-c", "16", "--rate", "20/s", "--burst", "4", "--window", "100/10s"},
			want: with(func(l *sluice.Limits) {
				l.Concurrency, l.Rate, l.Burst, l.Window = 16, sluice.Rate{N: 20, Per: time.Second}, 4, sluice.Rate{N: 100, Per: 10 * time.Second}
			}), wantRetries: 8},
		{args: []string{"--tokens", "40000/m", "--input-tokens", "30000/m", "--output-tokens", "8000/m"},
			want: with(func(l *sluice.Limits) {
				l.Tokens = sluice.Rate{N: 40000, Per: time.Minute}
				l.InputTokens = sluice.Rate{N: 30000, Per: time.Minute}
				l.OutputTokens = sluice.Rate{N: 8000, Per: time.Minute}
			}), wantRetries: 8},
		{args: []string{"--retries", "0", "--timeout", "30s", "--max-retry-wait", "1m"},
			want: with(func(l *sluice.Limits) { l.MaxPause = time.Minute }), wantRetries: 0, wantTimeout: 30 * time.Second},
		{args: []string{"--rate", "20"}, wantErr: `--rate "20": want COUNT/PERIOD such as 50/s`},
		{args: []string{"--tokens", "40000"}, wantErr: `--tokens "40000": want COUNT/PERIOD such as 40000/m`},
		{args: []string{"--rate", "0/s"}, wantErr: `--rate "0/s": count "0" must be positive`},
		{args: []string{"--window", "fast/s"}, wantErr: `--window "fast/s": count "fast" is not a number`},
		{args: []string{"--retries", "-1"}, wantErr: `--retries -1: want 0 or more`},
		{args: []string{"--output-tokens", "10/fortnight"}, wantErr: `--output-tokens "10/fortnight": unknown period unit "fortnight" (want ms, s, m, h, d or a duration like 10s)`},
		{args: []string{"-c", "0"}, wantErr: `--concurrency 0: want at least 1`},
		{args: []string{"--burst", "-1"}, wantErr: `--burst -1: want 0 (evenly spaced) or more`},
		{args: []string{"--timeout", "-1s"}, wantErr: `--timeout -1s: want 0 (the default) or more`},
		{args: []string{"--max-retry-wait", "-2s"}, wantErr: `--max-retry-wait -2s: want 0 (the default) or more`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var lf limitFlags
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			lf.add(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := lf.limits()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("limits() error = %v; want %q", err, tt.wantErr)
				}
				if exitCode(err) != 2 {
					t.Errorf("exit %d; want 2 (a usage error)", exitCode(err))
				}
				return
			}
			if err != nil {
				t.Fatalf("limits() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("limits() = %+v; want %+v", got, tt.want)
			}
			if lf.retries != tt.wantRetries || lf.timeout != tt.wantTimeout {
				t.Errorf("retries %d, timeout %v; want %d, %v", lf.retries, lf.timeout, tt.wantRetries, tt.wantTimeout)
			}
		})
	}
}
