package mock

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseLatency(t *testing.T) {
	tests := []struct {
		in       string
		wantStr  string
		wantMean time.Duration
	}{
		{"", "0", 0},
		{"0", "0", 0},
		{"0s", "0", 0},
		{"200ms", "200ms", 200 * time.Millisecond},
		{" 1.5s ", "1.5s", 1500 * time.Millisecond},
		{"200ms±100ms", "200ms±100ms", 200 * time.Millisecond},
		{"200ms+-100ms", "200ms±100ms", 200 * time.Millisecond},
		{"200ms ± 0s", "200ms", 200 * time.Millisecond},
		// median 200ms, p99 2s: σ = ln(10)/2.3263 = 0.990, mean = 200ms·e^(σ²/2)
		{"p50=200ms,p99=2s", "p50=200ms,p99=2s", 326 * time.Millisecond},
		{"p99=2s, p50=200ms", "p50=200ms,p99=2s", 326 * time.Millisecond},
		{"p90=1s,p99.9=3s", "p90=1s,p99.9=3s", 0}, // mean checked below
	}
	for _, tt := range tests {
		l, err := ParseLatency(tt.in)
		if err != nil {
			t.Errorf("ParseLatency(%q): %v", tt.in, err)
			continue
		}
		if got := l.String(); got != tt.wantStr {
			t.Errorf("ParseLatency(%q).String() = %q; want %q", tt.in, got, tt.wantStr)
		}
		if tt.wantMean == 0 && tt.wantStr != "0" {
			continue
		}
		if got := l.Mean(); got.Round(time.Millisecond) != tt.wantMean {
			t.Errorf("ParseLatency(%q).Mean() = %v; want %v", tt.in, got, tt.wantMean)
		}
	}
}

func TestParseLatencyErrors(t *testing.T) {
	tests := []struct{ in, wantPart string }{
		{"abc", `"abc"`},
		{"200", `"200"`},
		{"-5ms", `"-5ms"`},
		{"2h", `"2h"`},
		{"100ms±200ms", "spread"},
		{"100ms±x", `"x"`},
		{"p50=200ms", "two quantiles"},
		{"p50=1s,p99=2s,p999=3s", "two quantiles"},
		{"p50=2s,p99=1s", "p99 must be longer than p50"},
		{"p50=1s,p99=1s", "p99 must be longer than p50"},
		{"p50=1s,p50=2s", "same percentile"},
		{"p0=1s,p99=2s", `"p0"`},
		{"p100=1s,p50=2s", `"p100"`},
		{"q50=1s,p99=2s", `"q50"`},
		{"p50=0s,p99=1s", "p50 must be longer than 0"},
		{"p50=1s,p99=", `""`},
	}
	for _, tt := range tests {
		l, err := ParseLatency(tt.in)
		if err == nil {
			t.Errorf("ParseLatency(%q) = %v, nil; want an error", tt.in, l)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "mock: ") || !strings.Contains(msg, tt.wantPart) {
			t.Errorf("ParseLatency(%q) error %q; want it prefixed mock: and containing %s", tt.in, msg, tt.wantPart)
		}
	}
}

func TestLatencySampleUniform(t *testing.T) {
	l, _ := ParseLatency("200ms±100ms")
	r := rand.New(rand.NewPCG(1, 2))
	var sum time.Duration
	const n = 10000
	for range n {
		d := l.Sample(r)
		if d < 100*time.Millisecond || d > 300*time.Millisecond {
			t.Fatalf("sample %v outside 100ms..300ms", d)
		}
		sum += d
	}
	// The mean of n uniform samples has a standard deviation of
	// 200ms/sqrt(12n) ≈ 0.58ms; 4 of them is a tolerance no seed breaks.
	if mean := sum / n; mean < 198*time.Millisecond || mean > 202*time.Millisecond {
		t.Errorf("mean of %d samples = %v; want 200ms ± 2ms", n, mean)
	}
}

func TestLatencySampleLogNormal(t *testing.T) {
	l, _ := ParseLatency("p50=200ms,p99=2s")
	r := rand.New(rand.NewPCG(3, 4))
	const n = 100000
	s := make([]time.Duration, n)
	var sum float64
	for i := range s {
		s[i] = l.Sample(r)
		sum += s[i].Seconds()
	}
	slices.Sort(s)
	// Sampling error of the empirical quantiles at n = 1e5 is about 1% at
	// p50 and 4% at p99; the tolerances are several times that.
	for _, q := range []struct {
		p    float64
		want time.Duration
		tol  float64
	}{{0.50, 200 * time.Millisecond, 0.03}, {0.99, 2 * time.Second, 0.12}} {
		got := s[int(q.p*n)]
		if rel := math.Abs(got.Seconds()/q.want.Seconds() - 1); rel > q.tol {
			t.Errorf("p%v of samples = %v; want %v within %v%%", q.p*100, got, q.want, q.tol*100)
		}
	}
	if mean, want := sum/n, l.Mean().Seconds(); math.Abs(mean/want-1) > 0.05 {
		t.Errorf("sample mean %.3fs; Mean() %.3fs", mean, want)
	}
}

func TestLatencyNone(t *testing.T) {
	var l Latency
	if got := l.Sample(nil); got != 0 {
		t.Errorf("zero Latency sampled %v; want 0", got)
	}
	if got := FixedLatency(-time.Second); got != (Latency{}) {
		t.Errorf("FixedLatency(-1s) = %v; want none", got)
	}
	if got := FixedLatency(time.Second).Sample(nil); got != time.Second {
		t.Errorf("FixedLatency(1s).Sample = %v; want 1s", got)
	}
}

// FuzzParseLatency checks that ParseLatency never panics, and that what it
// accepts samples within bounds, has a sane mean and is written back the
// same by String.
func FuzzParseLatency(f *testing.F) {
	for _, s := range []string{"", "0", "200ms", "200ms±100ms", "200ms+-100ms", "p50=200ms,p99=2s", "p1=1ns,p99.999999=1h", "p50=1s,p50.0000000001=2s", "±", "p=,", "1h±1h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLatency(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "mock: ") {
				t.Errorf("ParseLatency(%q) error %q lacks the mock: prefix", s, err)
			}
			return
		}
		r := rand.New(rand.NewPCG(5, 6))
		for range 20 {
			if d := l.Sample(r); d < 0 || d > maxLatency {
				t.Fatalf("ParseLatency(%q).Sample() = %v", s, d)
			}
		}
		if m := l.Mean(); m < 0 || m > maxLatency {
			t.Fatalf("ParseLatency(%q).Mean() = %v", s, m)
		}
		back, err := ParseLatency(l.String())
		if err != nil || back != l {
			t.Fatalf("ParseLatency(%q) = %#v, written %q, read back as %#v, %v", s, l, l.String(), back, err)
		}
	})
}
