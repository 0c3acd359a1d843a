package main

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestConcurrencyFitsTheOpenFilesLimit: -c beyond what ulimit -n allows
// is lowered, with a line saying why, so that dials never fail with "too
// many open files" (outside review: -c 1000 under ulimit -n 256 made 2,415
// local failures that the summary blamed on the API).
func TestConcurrencyFitsTheOpenFilesLimit(t *testing.T) {
	for _, tc := range []struct {
		most      uint64
		c, want   int
		wantNotes int
	}{
		{most: 256, c: 1000, want: 96, wantNotes: 2},
		{most: 256, c: 96, want: 96},
		{most: 1 << 20, c: 1000, want: 1000},
		{most: 10, c: 8, want: 1, wantNotes: 2},
	} {
		var notes strings.Builder
		lim := sluice.Limits{Concurrency: tc.c}
		models := map[string]sluice.Limits{"gpt-4o": {Concurrency: tc.c}}
		fitFiles(&notes, tc.most, &lim, models)
		if lim.Concurrency != tc.want || models["gpt-4o"].Concurrency != tc.want {
			t.Errorf("ulimit %d, -c %d: concurrency %d, model's %d; want %d", tc.most, tc.c, lim.Concurrency, models["gpt-4o"].Concurrency, tc.want)
		}
		if got := strings.Count(notes.String(), "ulimit -n"); got != tc.wantNotes {
			t.Errorf("ulimit %d, -c %d: %d notes, want %d: %q", tc.most, tc.c, got, tc.wantNotes, notes.String())
		}
	}
}
