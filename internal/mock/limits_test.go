package mock

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseLimit(t *testing.T) {
	tests := []struct {
		in   string
		want Limit
	}{
		{"", Limit{}},
		{"  ", Limit{}},
		{"20/s", Limit{20, time.Second}},
		{"1200/m", Limit{1200, time.Minute}},
		{"40000/min", Limit{40000, time.Minute}},
		{"100/10s", Limit{100, 10 * time.Second}},
		{"0.5/s", Limit{0.5, time.Second}},
		{"3/hour", Limit{3, time.Hour}},
		{"7/d", Limit{7, 24 * time.Hour}},
		{"5/250ms", Limit{5, 250 * time.Millisecond}},
		{" 5 / 2min ", Limit{5, 2 * time.Minute}},
		{"1000/1m30s", Limit{1000, 90 * time.Second}},
		{"10/1.5h", Limit{10, 90 * time.Minute}},
		{"1e3/S", Limit{1000, time.Second}},
	}
	for _, tt := range tests {
		got, err := ParseLimit(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseLimit(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestParseLimitErrors(t *testing.T) {
	tests := []struct {
		in, wantPart string // wantPart: the bad part the error must name
	}{
		{"20", "N/period"},
		{"x/s", `"x"`},
		{"-1/s", `"-1"`},
		{"0/s", `"0"`},
		{"NaN/s", `"NaN"`},
		{"Inf/s", `"Inf"`},
		{"1e16/s", `"1e16"`},
		{"20/", `period ""`},
		{"20/x", `period "x"`},
		{"20/0s", `period "0s"`},
		{"20/-1s", `period "-1s"`},
		{"20/1000d", `period "1000d"`},
		{"20/1..5s", `period "1..5s"`},
	}
	for _, tt := range tests {
		got, err := ParseLimit(tt.in)
		if err == nil {
			t.Errorf("ParseLimit(%q) = %v, nil; want an error", tt.in, got)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "mock: ") || !strings.Contains(msg, tt.wantPart) {
			t.Errorf("ParseLimit(%q) error %q; want it prefixed mock: and naming %s", tt.in, msg, tt.wantPart)
		}
	}
}

func TestLimitString(t *testing.T) {
	tests := []struct {
		in   Limit
		want string
	}{
		{Limit{}, ""},
		{Limit{20, time.Second}, "20/s"},
		{Limit{1200, time.Minute}, "1200/m"},
		{Limit{0.5, time.Hour}, "0.5/h"},
		{Limit{100, 10 * time.Second}, "100/10s"},
		{Limit{1000, 90 * time.Second}, "1000/1m30s"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("%#v.String() = %q; want %q", tt.in, got, tt.want)
		}
		if back, err := ParseLimit(tt.want); err != nil || back != tt.in {
			t.Errorf("ParseLimit(%q) = %v, %v; want %v", tt.want, back, err, tt.in)
		}
	}
}

func TestLimitPerMinute(t *testing.T) {
	tests := []struct {
		in   Limit
		want float64
	}{
		{Limit{}, 0},
		{Limit{20, time.Second}, 1200},
		{Limit{0.5, time.Second}, 30},
		{Limit{100, 10 * time.Second}, 600},
		{Limit{3600, time.Hour}, 60},
	}
	for _, tt := range tests {
		if got := tt.in.PerMinute(); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%v.PerMinute() = %v; want %v", tt.in, got, tt.want)
		}
	}
}

// FuzzParseLimit checks that ParseLimit never panics, and that whatever it
// accepts is a valid limit that String writes back the same.
func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"", "20/s", "1200/m", "100/10s", "0.5/s", "40000/min", "1/1m30s", "1e3/h", "5/0.5ms", "x/y", "1/", "/s", "9e15/1ns"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLimit(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "mock: ") {
				t.Errorf("ParseLimit(%q) error %q lacks the mock: prefix", s, err)
			}
			return
		}
		if l.IsZero() {
			return
		}
		if err := l.validate(); err != nil {
			t.Fatalf("ParseLimit(%q) = %v, which is invalid: %v", s, l, err)
		}
		back, err := ParseLimit(l.String())
		if err != nil || back != l {
			t.Fatalf("ParseLimit(%q) = %#v, written %q, read back as %#v, %v", s, l, l.String(), back, err)
		}
		if pm := l.PerMinute(); !(pm > 0) || math.IsInf(pm, 0) {
			t.Fatalf("ParseLimit(%q) = %v: per minute %v", s, l, pm)
		}
	})
}

func TestBucket(t *testing.T) {
	t0 := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newBucket(Limit{10, time.Second}, t0)
	for range 10 {
		if !b.covers(1) {
			t.Fatalf("full bucket of 10 refused a unit; level %v", b.level)
		}
		b.take(1)
	}
	if b.covers(1) {
		t.Fatalf("empty bucket covers a unit")
	}
	if got, ok := b.wait(1); !ok || got != 100*time.Millisecond {
		t.Errorf("wait(1) = %v, %v; want 100ms, true", got, ok)
	}
	if got, ok := b.wait(11); ok {
		t.Errorf("wait(11) = %v, %v on a bucket of 10; want never", got, ok)
	}
	b.refill(t0.Add(100 * time.Millisecond))
	if !b.covers(1) || b.covers(2) {
		t.Errorf("after 100ms level %v; want 1", b.level)
	}
	b.refill(t0.Add(-time.Hour)) // the clock went back: nothing happens
	if got := b.remaining(); got != 1 {
		t.Errorf("remaining after a backwards clock = %d; want 1", got)
	}
	if got := b.untilFull(); got != 900*time.Millisecond {
		t.Errorf("untilFull = %v; want 900ms", got)
	}

	// A limit under one unit a period still holds one unit.
	half := newBucket(Limit{0.5, time.Second}, t0)
	half.take(1)
	if got, ok := half.wait(1); !ok || got != 2*time.Second {
		t.Errorf("0.5/s bucket: wait(1) = %v, %v; want 2s, true", got, ok)
	}
	if newBucket(Limit{}, t0) != nil {
		t.Errorf("newBucket(zero) is not nil")
	}
}
