package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/mock"
)

func TestDemoNaiveFailsAndSluiceSucceeds(t *testing.T) {
	lat, err := mock.ParseLatency("100ms±20ms")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Requests: 100, Rate: mock.Limit{N: 50, Per: time.Second}, Concurrency: 5, Latency: lat}
	var progressCalls int
	cfg.Progress = func(side string, done, failed, total int) { progressCalls++ }
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Each wave of the naive side gets about 5 calls through; three waves
	// (two retries) cannot get 100 through, however slow the machine.
	if r.Naive.Failed < 30 || r.Naive.Throttled < 100 {
		t.Errorf("naive side: %+v; want most calls failed and many 429s", r.Naive)
	}
	if r.Sluice.Succeeded != 100 || r.Sluice.Failed != 0 {
		t.Errorf("sluice side: %+v; want all 100 succeeded", r.Sluice)
	}
	if r.Sluice.PeakConnections > int64(2*cfg.Concurrency) || r.Naive.PeakConnections < 50 {
		t.Errorf("peak connections: sluice %d, naive %d; want sluice near the limit of %d, naive far above", r.Sluice.PeakConnections, r.Naive.PeakConnections, cfg.Concurrency)
	}
	if r.Sluice.Throttled > r.Naive.Throttled/10 {
		t.Errorf("sluice drew %d 429s, naive %d; want far fewer", r.Sluice.Throttled, r.Naive.Throttled)
	}
	if progressCalls != 200 {
		t.Errorf("progress called %d times, want once per call per side", progressCalls)
	}
	var out bytes.Buffer
	r.Print(&out)
	for _, want := range []string{"naive", "sluice", "429s the API sent", "elapsed ÷ minimum"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestMinimum(t *testing.T) {
	lat, _ := mock.ParseLatency("200ms")
	tests := []struct {
		cfg  Config
		want time.Duration
	}{
		{Config{Requests: 300, Rate: mock.Limit{N: 20, Per: time.Second}, Concurrency: 5, Latency: lat}, 15 * time.Second},
		{Config{Requests: 300, Rate: mock.Limit{N: 100, Per: time.Second}, Concurrency: 2, Latency: lat}, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := tt.cfg.Minimum(); got != tt.want {
			t.Errorf("Minimum() = %v, want %v", got, tt.want)
		}
	}
}
