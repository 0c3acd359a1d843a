package sluice

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want Rate
	}{
		{"50/s", Rate{50, time.Second}},
		{"3000/m", Rate{3000, time.Minute}},
		{"100/10s", Rate{100, 10 * time.Second}},
		{"2/h", Rate{2, time.Hour}},
		{"0.5/s", Rate{0.5, time.Second}},
		{"1000000/h", Rate{1000000, time.Hour}},
		{"10/ms", Rate{10, time.Millisecond}},
		{"5/min", Rate{5, time.Minute}},
		{"5/minute", Rate{5, time.Minute}},
		{"5/minutes", Rate{5, time.Minute}},
		{"7/sec", Rate{7, time.Second}},
		{"7/seconds", Rate{7, time.Second}},
		{"1/d", Rate{1, 24 * time.Hour}},
		{"3/hours", Rate{3, time.Hour}},
		{" 12 / 1m30s ", Rate{12, 90 * time.Second}},
		{"1e3/s", Rate{1000, time.Second}},
		{"4/.5s", Rate{4, 500 * time.Millisecond}},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseRateErrorsNameTheBadPart(t *testing.T) {
	tests := []struct{ in, mention string }{
		{"", "COUNT/PERIOD"},
		{"50", "COUNT/PERIOD"},
		{"/s", "missing count"},
		{"50/", "missing period"},
		{"abc/s", `count "abc"`},
		{"-5/s", `count "-5" must be positive`},
		{"0/s", `count "0" must be positive`},
		{"NaN/s", `count "NaN"`},
		{"Inf/s", `count "Inf"`},
		{"50/x", `unknown period unit "x"`},
		{"50/fortnight", `unknown period unit "fortnight"`},
		{"50/10q", `period "10q" is not a duration`},
		{"50/0s", `period "0s" must be positive`},
		{"2e9/s", "faster than one unit per nanosecond"},
		{"5/s/s", "period"},
	}
	for _, tt := range tests {
		_, err := ParseRate(tt.in)
		if err == nil {
			t.Errorf("ParseRate(%q) succeeded; want an error mentioning %q", tt.in, tt.mention)
			continue
		}
		if !errors.Is(err, ErrBadRate) {
			t.Errorf("ParseRate(%q) error %v does not wrap ErrBadRate", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.mention) || !strings.Contains(err.Error(), tt.in) {
			t.Errorf("ParseRate(%q) error %q; want it to quote the input and mention %q", tt.in, err, tt.mention)
		}
	}
}

func TestRateStringRoundTrips(t *testing.T) {
	for _, s := range []string{"50/s", "3000/m", "100/10s", "2/h", "0.5/s", "1/d", "10/ms", "12/1m30s"} {
		r, err := ParseRate(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseRate(r.String())
		if err != nil || back != r {
			t.Errorf("ParseRate(%q).String() = %q, which parses to %v, %v", s, r.String(), back, err)
		}
	}
	if got := (Rate{}).String(); got != "unlimited" {
		t.Errorf("zero Rate String() = %q, want unlimited", got)
	}
}

func TestRateIntervalRoundsUp(t *testing.T) {
	tests := []struct {
		r    Rate
		want time.Duration
	}{
		{PerSecond(10), 100 * time.Millisecond},
		{PerSecond(3), 333333334}, // never faster than the rate
		{Rate{100, 10 * time.Second}, 100 * time.Millisecond},
		{Rate{1000000, time.Hour}, 3600 * time.Microsecond},
		{Rate{}, 0},
	}
	for _, tt := range tests {
		if got := tt.r.Interval(); got != tt.want {
			t.Errorf("%v.Interval() = %v, want %v", tt.r, got, tt.want)
		}
		if tt.r.N > 0 && float64(tt.r.Interval())*tt.r.N < float64(tt.r.Per) {
			t.Errorf("%v: N intervals are shorter than the period", tt.r)
		}
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"50/s", "3000/m", "100/10s", "2/h", "0.5/s", "1000000/h", "1e400/s", "5/-1s", "/", "9/1h1m1s1ms", "1/.s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			if !errors.Is(err, ErrBadRate) {
				t.Fatalf("ParseRate(%q) error %v does not wrap ErrBadRate", s, err)
			}
			return
		}
		if verr := r.validate(); verr != nil {
			t.Fatalf("ParseRate(%q) = %v, which does not validate: %v", s, r, verr)
		}
		if r.Interval() <= 0 {
			t.Fatalf("ParseRate(%q) = %v with interval %v", s, r, r.Interval())
		}
		back, err := ParseRate(r.String())
		if err != nil || back.Per != r.Per {
			t.Fatalf("ParseRate(%q) = %v; its String %q parses to %v, %v", s, r, r.String(), back, err)
		}
	})
}

// Interval must never be shorter than the exact period per unit, even for
// periods a float64 cannot hold exactly.
func TestRateIntervalIsExactForLongPeriods(t *testing.T) {
	for _, r := range []Rate{
		{N: 1, Per: 1<<55 + 1},
		{N: 3, Per: 3<<54 + 3},
		{N: 7, Per: 1<<58 + 1},
	} {
		got := r.Interval()
		if min := (r.Per + time.Duration(r.N) - 1) / time.Duration(r.N); got < min {
			t.Errorf("%v.Interval() = %d, want at least %d", r, got, min)
		}
	}
}
