package batch_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/apitest"
	"github.com/sluicehq/sluice/internal/batch"
)

// BenchmarkRun runs batch.Run over http lines against an in-process API
// that answers at once: what the runner itself costs per item, the
// reading, the gate, the retry loop, the results and the journal, without
// net/http's connections (bench/cmd/runbench measures those too).
func BenchmarkRun(b *testing.B) {
	const items = 20000
	dir := b.TempDir()
	var in strings.Builder
	for i := range items {
		fmt.Fprintf(&in, `{"id":%d,"url":"http://api.example/v1/items/%d"}`+"\n", i, i)
	}
	input := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(input, []byte(in.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(dir, "out.jsonl")
	b.ReportAllocs()
	for b.Loop() {
		os.Remove(out) // --restart would keep every iteration's results aside
		cfg := batch.Config{Input: input, Out: out, Restart: true, Progress: "none", Base: apitest.Instant{},
			Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
		cfg.Limits.Concurrency = 64
		sum, err := batch.Run(context.Background(), cfg)
		if err != nil || sum.Succeeded != items {
			b.Fatalf("Run: %d succeeded, %v", sum.Succeeded, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*items), "ns/item")
}
