package main

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// parseMCP parses args as sluice mcp does and returns the Config.
func parseMCP(t *testing.T, args ...string) (*mcpOptions, error) {
	t.Helper()
	var o mcpOptions
	flags := pflag.NewFlagSet("mcp", pflag.ContinueOnError)
	o.add(flags)
	if err := flags.Parse(args); err != nil {
		return nil, err
	}
	if o.config != "" {
		if err := o.readFile(flags, o.config); err != nil {
			return nil, err
		}
	}
	return &o, nil
}

func TestMCPConfigFile(t *testing.T) {
	path := writeConfig(t, `# limits for the agent
global-concurrency: 12
global-rate: 20/s
concurrency: 4
rate: 5/s
max-body: 2MiB
call-budget: 90s
allow-private: true
hosts:
  api.github.com: {rate: 1/s, concurrency: 2}
`)
	o, err := parseMCP(t, "--config", path, "--rate", "7/s")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.mcpConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Global.Concurrency != 12 || cfg.Global.Rate.String() != "20/s" || cfg.Host.Concurrency != 4 ||
		cfg.MaxBody != 2<<20 || cfg.CallBudget != 90*time.Second || !cfg.AllowPrivate {
		t.Errorf("config %+v", cfg)
	}
	if got := cfg.Host.Rate.String(); got != "7/s" {
		t.Errorf("host rate %s, want 7/s: the command line wins over the file", got)
	}
	gh := cfg.HostLimits["api.github.com"]
	if gh.Rate.String() != "1/s" || gh.Concurrency != 2 {
		t.Errorf("api.github.com's limits %+v, want 1/s and 2", gh)
	}
}

func TestMCPConfigFileErrorsNameTheLine(t *testing.T) {
	tests := []struct{ text, want string }{
		{"rate: 5/s\nconcurency: 4\n", "line 2: unknown field \"concurency\""},
		{"hosts:\n  a.example: {burst: 3}\n", "line 2: hosts: a.example: unknown field \"burst\" (want concurrency, rate, window)"},
		{"max-items: lots\n", "line 1: max-items \"lots\""},
		{"rate:\n", "line 1: rate: want a value"},
		{"config: other.yaml\n", "line 1: config cannot be set in the file"},
		{"max-items: \"3\"\n", "line 1: max-items: want a number, not the string \"3\""},
		{"hosts:\n  a.example: {concurrency: '2'}\n", "line 2: hosts: a.example: concurrency: want a number"},
	}
	var path string
	for _, tc := range tests {
		path = writeConfig(t, tc.text)
		_, err := parseMCP(t, "--config", path)
		if err == nil || !strings.Contains(err.Error(), path+", "+tc.want) {
			t.Errorf("%q: %v; want %q", tc.text, err, tc.want)
		}
	}
	// A host's value the file gives that only the limits' check refuses.
	path = writeConfig(t, "rate: 5/s\nhosts:\n  api.x: {rate: slow}\n")
	o, err := parseMCP(t, "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.mcpConfig()
	if err = o.blameFile(err); err == nil || !strings.Contains(err.Error(), "(set in "+path+", line 3)") {
		t.Errorf("hosts: api.x: rate: slow gave %v; want line 3", err)
	}
	// A value the file gives that only the limits' check refuses.
	path = writeConfig(t, "global-concurrency: 4\nrate: fast\n")
	o, err = parseMCP(t, "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.mcpConfig()
	if err = o.blameFile(err); err == nil || !strings.Contains(err.Error(), `--rate "fast"`) || !strings.Contains(err.Error(), "(set in "+path+", line 2)") {
		t.Errorf("rate: fast gave %v; want the flag and the file's line", err)
	}
}

func TestMCPHostFlagsSetOneHost(t *testing.T) {
	o, err := parseMCP(t, "--concurrency", "6", "--concurrency", "api.example.com=2", "--rate", "api.example.com=1/s")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.mcpConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host.Concurrency != 6 || !cfg.Host.Rate.IsZero() {
		t.Errorf("every host's limits %+v, want concurrency 6, no rate", cfg.Host)
	}
	if l := cfg.HostLimits["api.example.com"]; l.Concurrency != 2 || l.Rate.String() != "1/s" {
		t.Errorf("api.example.com's limits %+v, want 2 and 1/s", l)
	}
}
