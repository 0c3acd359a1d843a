package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/sluicehq/sluice"
)

func TestLimitFlagsPerModel(t *testing.T) {
	perMinute := func(n float64) sluice.Rate { return sluice.Rate{N: n, Per: time.Minute} }
	def := sluice.Limits{Concurrency: 4, Rate: perMinute(50), Tokens: perMinute(40000), MaxPause: sluice.DefaultMaxPause}
	base := []string{"-c", "4", "--rate", "50/m", "--tokens", "40000/m"}
	tests := []struct {
		args    []string
		want    map[string]sluice.Limits
		wantErr string // the whole message
	}{
		{args: base, want: nil},
		{args: append(base, "--rate", "claude-haiku-4=4000/m"), want: map[string]sluice.Limits{
			"claude-haiku-4": {Concurrency: 4, Rate: perMinute(4000), Tokens: perMinute(40000), MaxPause: sluice.DefaultMaxPause},
		}},
		// Each flag given per model; the last value for a model wins; a
		// model given one flag keeps the plain values of the others.
		{args: append(base, "-c", "haiku=32", "--rate", "haiku=1/s", "--rate", "haiku=2000/m", "--output-tokens", "gpt-4o=8000/m", "--input-tokens", "haiku=10/s", "--window", "haiku=100/10s"), want: map[string]sluice.Limits{
			"haiku":  {Concurrency: 32, Rate: perMinute(2000), Window: sluice.Rate{N: 100, Per: 10 * time.Second}, Tokens: perMinute(40000), InputTokens: sluice.Rate{N: 10, Per: time.Second}, MaxPause: sluice.DefaultMaxPause},
			"gpt-4o": {Concurrency: 4, Rate: perMinute(50), Tokens: perMinute(40000), OutputTokens: perMinute(8000), MaxPause: sluice.DefaultMaxPause},
		}},
		{args: append(base, "--rate", "haiku=20"), wantErr: `--rate "haiku=20": want COUNT/PERIOD such as 50/s`},
		{args: append(base, "--tokens", "haiku=0/m"), wantErr: `--tokens "haiku=0/m": count "0" must be positive`},
		{args: append(base, "--window", "haiku=fast/s"), wantErr: `--window "haiku=fast/s": count "fast" is not a number`},
		{args: append(base, "-c", "haiku=0"), wantErr: `--concurrency "haiku=0": want a number of calls, at least 1`},
		{args: append(base, "-c", "haiku=many"), wantErr: `--concurrency "haiku=many": want a number of calls, at least 1`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[len(base):], " "), func(t *testing.T) {
			var lf limitFlags
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			lf.add(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			lim, err := lf.limits()
			if err != nil {
				t.Fatalf("limits() error = %v", err)
			}
			if lim != def {
				t.Errorf("limits() = %+v; want %+v (per-model values leave every model's alone)", lim, def)
			}
			got, err := lf.modelLimits(lim)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("modelLimits() error = %v; want %q", err, tt.wantErr)
				}
				if exitCode(err) != 2 {
					t.Errorf("exit %d; want 2 (a usage error)", exitCode(err))
				}
				return
			}
			if err != nil {
				t.Fatalf("modelLimits() error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("modelLimits() = %+v; want %+v", got, tt.want)
			}
		})
	}
}

// A flag value naming no model is refused by the flag parser, which names
// the flag.
func TestLimitFlagsPerModelNeedsAName(t *testing.T) {
	var lf limitFlags
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	lf.add(fs)
	err := fs.Parse([]string{"--rate", "=5/s"})
	if err == nil || !strings.Contains(err.Error(), "--rate") || !strings.Contains(err.Error(), `"=5/s": want VALUE or MODEL=VALUE`) {
		t.Errorf("Parse error = %v; want one naming --rate and the value", err)
	}
}

// A model named with no value after = was silently ignored (found in
// review): the user believed the model was limited.
func TestLimitFlagsPerModelNeedsAValue(t *testing.T) {
	var lf limitFlags
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	lf.add(fs)
	err := fs.Parse([]string{"--rate", "claude-haiku-4="})
	if err == nil || !strings.Contains(err.Error(), `"claude-haiku-4=": want MODEL=VALUE, a value after =`) {
		t.Errorf("Parse error = %v; want one saying a value is missing", err)
	}
}
