package sluice_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestModelLimitsNamesCoverVersions protects the matching that `sluice run
// --rate MODEL=RATE` and the proxy's per-model limits share: a name covers
// its versions and dates, not a longer model name, and the longest wins.
func TestModelLimitsNamesCoverVersions(t *testing.T) {
	m := &sluice.ModelLimits{
		Default: sluice.Limits{Concurrency: 1},
		Models: map[string]sluice.Limits{
			"gpt-4o":           {Concurrency: 2},
			"claude-haiku-4":   {Concurrency: 3},
			"claude-haiku-45":  {Concurrency: 4},
			"claude-3-5-haiku": {Concurrency: 5},
		},
	}
	for _, tc := range []struct {
		model, wantKey string
		wantConc       int
	}{
		{"gpt-4o", "api.test/gpt-4o", 2},
		{"gpt-4o-2024-08-06", "api.test/gpt-4o", 2},
		{"gpt-4o-mini", "api.test/gpt-4o-mini", 1},
		{"claude-haiku-4-5-20251001", "api.test/claude-haiku-4", 3},
		{"claude-haiku-45-1", "api.test/claude-haiku-45", 4},
		{"gpt-4", "api.test/gpt-4", 1},
		{"claude-3-5-haiku-latest", "api.test/claude-3-5-haiku", 5},
		{"claude-3-5-haiku-latestx", "api.test/claude-3-5-haiku-latestx", 1},
		{"gpt-4o-latest", "api.test/gpt-4o", 2},
		{"", "api.test", 1},
	} {
		body := `{"model":"` + tc.model + `"}`
		req, err := http.NewRequest("POST", "https://api.test/v1/messages", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		key := m.Key(req)
		if key != tc.wantKey {
			t.Errorf("model %q: Key = %q, want %q", tc.model, key, tc.wantKey)
		}
		if got := m.LimitsFor(key).Concurrency; got != tc.wantConc {
			t.Errorf("model %q: LimitsFor(%q).Concurrency = %d, want %d", tc.model, key, got, tc.wantConc)
		}
	}
}
