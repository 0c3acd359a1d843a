package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sluicehq/sluice/internal/mcp"
)

// peakHost answers after a latency, counting the most requests it ever
// had in its handler at once.
type peakHost struct {
	*httptest.Server
	inFlight, peak atomic.Int64
}

func newPeakHost(t *testing.T, network, addr string) *peakHost {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("listen %s: %v", addr, err)
	}
	p := &peakHost{}
	p.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := p.inFlight.Add(1)
		for m := p.peak.Load(); n > m && !p.peak.CompareAndSwap(m, n); m = p.peak.Load() {
		}
		time.Sleep(20 * time.Millisecond) // the API's latency: long enough for calls let in together to overlap
		p.inFlight.Add(-1)
		fmt.Fprint(w, "ok")
	}))
	p.Listener.Close()
	p.Listener = ln
	p.Start()
	t.Cleanup(p.Close)
	return p
}

// fetchPeak serves sluice mcp with args, has an agent fetch 6 URLs of
// host at once, and returns the most that were in flight together.
func fetchPeak(t *testing.T, host *peakHost, args ...string) int64 {
	t.Helper()
	o, err := parseMCP(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.mcpConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := mcp.New(cfg)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ct, st := sdk.NewInMemoryTransports()
	ss, err := srv.MCP().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Wait()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "v0"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	var list []string
	for i := range 6 {
		list = append(list, fmt.Sprintf("%s/%d", host.URL, i))
	}
	host.peak.Store(0)
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "fetch_many", Arguments: map[string]any{"urls": list, "page_size": 1}})
	if err != nil || res.IsError {
		t.Fatalf("fetch_many: %v %+v", err, res)
	}
	raw, _ := json.Marshal(res.StructuredContent)
	if !strings.Contains(string(raw), `"succeeded":6`) {
		t.Fatalf("fetch_many: %s; want 6 succeeded", raw)
	}
	return host.peak.Load()
}

// TestMCPHostLimitsHoldInEveryOperatorSpelling: an outside tester gave
// --rate [::1]=5/s, http://127.0.0.1:9102=5/s and the like, on the
// command line and under hosts: in --config; each was accepted and
// limited nothing. Each spelling here holds its host to one call at a
// time against the agent's 6 URLs at once (8 for every other host).
func TestMCPHostLimitsHoldInEveryOperatorSpelling(t *testing.T) {
	v4 := newPeakHost(t, "tcp4", "127.0.0.1:0")
	v6 := newPeakHost(t, "tcp6", "[::1]:0")
	p4 := v4.URL[strings.LastIndexByte(v4.URL, ':')+1:]
	p6 := v6.URL[strings.LastIndexByte(v6.URL, ':')+1:]
	base := []string{"--allow-private", "--adaptive=false", "-c", "8"}
	if p := fetchPeak(t, v4, base...); p < 2 {
		t.Fatalf("%d calls in flight at once with no host's own limit; want more than 1, or this test shows nothing", p)
	}
	for _, c := range []struct {
		host *peakHost
		name string
	}{
		{v6, "[::1]"},
		{v6, "::1"},
		{v6, "[::1]:" + p6},
		{v6, "http://[::1]:" + p6},
		{v4, "http://127.0.0.1"},
		{v4, "http://127.0.0.1:" + p4},
		{v4, "http://127.0.0.1:" + p4 + "/"},
		{v4, "127.0.0.1"},
		{v4, "127.0.0.1:" + p4},
		{v4, "127.0.0.1.:0" + p4},
	} {
		if p := fetchPeak(t, c.host, append(base, "--concurrency", c.name+"=1")...); p != 1 {
			t.Errorf("--concurrency %s=1: %d calls in flight at once to %s, want 1", c.name, p, c.host.URL)
		}
		path := writeConfig(t, fmt.Sprintf("hosts:\n  %q: {concurrency: 1}\n", c.name))
		if p := fetchPeak(t, c.host, append(base, "--config", path)...); p != 1 {
			t.Errorf("hosts: %q: {concurrency: 1}: %d calls in flight at once to %s, want 1", c.name, p, c.host.URL)
		}
	}
}

// The tester's --rate spellings, read into the gate keys' spelling.
func TestMCPHostNamesAreReadOnce(t *testing.T) {
	o, err := parseMCP(t, "--rate", "[::1]=5/s", "--rate", "http://127.0.0.1:9102=4/s", "--rate", "Api.Example.com.=3/s",
		"--window", "::1=100/10s", "--rate", "127.0.0.1:80=2/s", "--rate", "https://h:0443/=1/s")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.mcpConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"[::1]": "5/s", "127.0.0.1:9102": "4/s", "api.example.com": "3/s", "127.0.0.1:80": "2/s", "h:443": "1/s"}
	for name, rate := range want {
		if l, ok := cfg.HostLimits[name]; !ok || l.Rate.String() != rate {
			t.Errorf("HostLimits[%q] = %+v (%v); want rate %s", name, l, ok, rate)
		}
	}
	if l := cfg.HostLimits["[::1]"]; l.Window.String() != "100/10s" {
		t.Errorf("[::1]'s window %v, want ::1's 100/10s: one host, two spellings", l.Window)
	}
	if len(cfg.HostLimits) != len(want) {
		t.Errorf("HostLimits %v; want the keys of %v", cfg.HostLimits, want)
	}
}

// A host:port keeps its host's own values under its own: a name without
// a port holds for every port.
func TestMCPHostPortKeepsItsHostsLimits(t *testing.T) {
	o, err := parseMCP(t, "--rate", "h=1/s", "--concurrency", "h:8080=2", "--rate", "h:9090=3/s")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.mcpConfig()
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.HostLimits["h:8080"]; l.Rate.String() != "1/s" || l.Concurrency != 2 {
		t.Errorf("h:8080's limits %+v, want h's 1/s and its own concurrency 2", l)
	}
	if l := cfg.HostLimits["h:9090"]; l.Rate.String() != "3/s" {
		t.Errorf("h:9090's limits %+v, want its own 3/s", l)
	}
}

// A name that is not a host is a usage error naming the flag, or the
// file's line, before anything is served: the tester's 'bogus host=5/s'
// started without a word.
func TestMCPHostNamesThatAreNotHostsAreUsageErrors(t *testing.T) {
	for _, c := range []struct{ flag, value, want string }{
		{"--rate", "bogus host=5/s", `"bogus host=5/s": not a host: a space`},
		{"--concurrency", "http://h/v1=2", "a URL with a path"},
		{"--window", "h:99999=10/s", `port "99999"`},
		{"--rate", "::1:9501=5/s", "[::1]:9501 or [::1:9501]?"},
	} {
		_, err := run(t, "mcp", c.flag, c.value)
		if exitCode(err) != 2 || err == nil || !strings.Contains(err.Error(), c.flag) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("mcp %s %q: exit %d, %v; want 2 naming the flag and %q", c.flag, c.value, exitCode(err), err, c.want)
		}
	}
	path := writeConfig(t, "rate: 5/s\nhosts:\n  api.x: {rate: 1/s}\n  bogus host: {rate: 1/s}\n")
	_, err := run(t, "mcp", "--config", path)
	if want := path + `, line 4: hosts: "bogus host": not a host: a space`; exitCode(err) != 2 || err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("hosts: bogus host: exit %d, %v; want 2 and %q", exitCode(err), err, want)
	}
}

// The command line wins over the file for a host's own value too, in
// whatever spelling either names the host.
func TestMCPCommandLineWinsForAHostsOwnValue(t *testing.T) {
	path := writeConfig(t, "hosts:\n  \"[::1]\": {rate: 1/s, concurrency: 3}\n")
	o, err := parseMCP(t, "--config", path, "--rate", "::1=7/s")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.mcpConfig()
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.HostLimits["[::1]"]; l.Rate.String() != "7/s" || l.Concurrency != 3 {
		t.Errorf("[::1]'s limits %+v; want the command line's 7/s and the file's concurrency 3", l)
	}
}
