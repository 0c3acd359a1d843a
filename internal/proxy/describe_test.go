package proxy_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/proxy"
)

// The LLM presets hold each model to the route's limits on its own, and
// the start line says so: "rate 50/s" read as the route's total (outside
// review).
func TestDescribeLimitsSaysEachModelForLLMPresets(t *testing.T) {
	l := sluice.Limits{Concurrency: 8, Rate: sluice.PerSecond(50)}
	for _, c := range []struct {
		preset proxy.Preset
		each   bool
	}{{proxy.Anthropic, true}, {proxy.OpenAI, true}, {proxy.Generic, false}} {
		got := proxy.DescribeLimits(proxy.Route{Preset: c.preset, Limits: l})
		if strings.Contains(got, "for each model") != c.each || !strings.Contains(got, "rate 50/s") {
			t.Errorf("%s: %q; want the rate, and \"for each model\" %v", c.preset, got, c.each)
		}
	}
}
