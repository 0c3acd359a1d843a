package main

import (
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		line       string
		name       string
		ns, allocs float64
		ok         bool
	}{
		{"BenchmarkAllow/sluice-2   \t26084977\t        45.99 ns/op\t       0 B/op\t       0 allocs/op", "BenchmarkAllow/sluice", 45.99, 0, true},
		{"BenchmarkGate/three-limits-parallel-8  1000  360.9 ns/op  64 B/op  1 allocs/op", "BenchmarkGate/three-limits-parallel", 360.9, 1, true},
		{"BenchmarkClock/since+cas  1000  39.73 ns/op", "BenchmarkClock/since+cas", 39.73, -1, true},
		{"BenchmarkAllow/sluice-2", "", 0, 0, false},
		{"goos: linux", "", 0, 0, false},
		{"PASS", "", 0, 0, false},
		{"ok  \tgithub.com/sluicehq/sluice/bench\t95.1s", "", 0, 0, false},
	}
	for _, tt := range tests {
		name, ns, allocs, ok := parseLine(tt.line)
		if name != tt.name || ns != tt.ns || allocs != tt.allocs || ok != tt.ok {
			t.Errorf("parseLine(%q) = %q, %v, %v, %v; want %q, %v, %v, %v",
				tt.line, name, ns, allocs, ok, tt.name, tt.ns, tt.allocs, tt.ok)
		}
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		xs   []float64
		want float64
	}{
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.xs); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.xs, got, tt.want)
		}
	}
}

func TestRun(t *testing.T) {
	in := `goos: linux
BenchmarkAllow/sluice-2  100  40 ns/op  0 B/op  0 allocs/op
BenchmarkAllow/xrate-2   100  100 ns/op  0 B/op  0 allocs/op
BenchmarkAllow/sluice-2  100  50 ns/op  0 B/op  0 allocs/op
BenchmarkAllow/xrate-2   100  120 ns/op  0 B/op  0 allocs/op
BenchmarkAllow/sluice-2  100  45 ns/op  0 B/op  0 allocs/op
BenchmarkAllow/xrate-2   100  110 ns/op  0 B/op  0 allocs/op
PASS
`
	var out strings.Builder
	if err := run(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"BenchmarkAllow/sluice  45.0", "BenchmarkAllow/xrate   110.0", "sluice/xrate  0.41"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := run(strings.NewReader("PASS\n"), &out); err == nil {
		t.Error("run with no results: got no error")
	}
}
