package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestMCPHelpSpeaksOfHosts: sluice mcp's help gives the limit flags'
// keys as hosts (they are models in run and proxy), and hides the token
// flags, which it refuses.
func TestMCPHelpSpeaksOfHosts(t *testing.T) {
	cmd := newMCP()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	help := out.String()
	for _, want := range []string{"[HOST=]N", "[HOST=]RATE", "--adaptive", "--reply-within"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	for _, unwanted := range []string{"MODEL", "--tokens", "--input-tokens", "--output-tokens", "with --api"} {
		if strings.Contains(help, unwanted) {
			t.Errorf("help shows %q:\n%s", unwanted, help)
		}
	}
}

// TestMCPAdaptiveFalseFixesHostConcurrency: --adaptive=false keeps every
// host's concurrency at --concurrency, its own hosts' included, as the
// proxy's does; the default adapts.
func TestMCPAdaptiveFalseFixesHostConcurrency(t *testing.T) {
	o, err := parseMCP(t, "--adaptive=false", "-c", "6", "--rate", "api.github.com=1/s")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.mcpConfig()
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Host.FixedConcurrency || cfg.Host.Concurrency != 6 {
		t.Errorf("host limits %+v; want a fixed concurrency of 6", cfg.Host)
	}
	if gh := cfg.HostLimits["api.github.com"]; !gh.FixedConcurrency || gh.Concurrency != 6 {
		t.Errorf("api.github.com's limits %+v; want a fixed concurrency of 6", gh)
	}
	o, _ = parseMCP(t)
	if cfg, _ := o.mcpConfig(); cfg.Host.FixedConcurrency {
		t.Error("by default the host concurrency is fixed; want adaptive")
	}
	if o, _ = parseMCP(t, "--reply-within", "0s"); o != nil {
		if _, err := o.mcpConfig(); err == nil || !strings.Contains(err.Error(), "--reply-within") {
			t.Errorf("--reply-within 0s: %v; want an error naming it", err)
		}
	}
	o, _ = parseMCP(t, "--reply-within", "20s")
	if cfg, _ := o.mcpConfig(); cfg.ReplyWithin != 20*time.Second {
		t.Errorf("--reply-within 20s: ReplyWithin %v", cfg.ReplyWithin)
	}
}
