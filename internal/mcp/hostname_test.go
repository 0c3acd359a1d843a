package mcp

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestHostLimitsHoldInEveryOperatorSpelling: an outside tester named
// hosts as [::1], http://127.0.0.1:9102 and 127.0.0.1:80, and each limit
// was accepted and did nothing, so the agent ran the host at the default
// limits. Each name here holds one host to one call at a time; the
// agent's 6 URLs must never overlap.
func TestHostLimitsHoldInEveryOperatorSpelling(t *testing.T) {
	v4 := newPeakServer(t, 20*time.Millisecond)
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	v6 := newPeakServerOn(t, 20*time.Millisecond, ln)
	p4, p6 := port(t, v4.URL), port(t, v6.URL)
	for _, c := range []struct {
		name   string
		server *peakServer
	}{
		{"[::1]", v6},
		{"::1", v6},
		{"[::1]:" + p6, v6},
		{"http://[::1]:" + p6 + "/", v6},
		{"http://127.0.0.1", v4},
		{"http://127.0.0.1:" + p4, v4},
		{"HTTP://127.0.0.1.:0" + p4 + "/", v4},
		{"127.0.0.1", v4},
		{"127.0.0.1:" + p4, v4},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.server.peak.Store(0)
			one := sluice.Limits{Concurrency: 1, FixedConcurrency: true}
			_, cs := session(t, Config{
				AllowPrivate: true,
				Host:         sluice.Limits{Concurrency: 8, FixedConcurrency: true},
				HostLimits:   map[string]sluice.Limits{c.name: one},
			}, nil)
			rep, _ := callTool(t, cs, "fetch_many", map[string]any{"urls": urls(c.server.URL, 6), "page_size": 1})
			if rep.Summary.Succeeded != 6 {
				t.Fatalf("summary %+v, want 6 succeeded", rep.Summary)
			}
			if p := c.server.peak.Load(); p != 1 {
				t.Errorf("host limits named %q: %s had %d calls in flight at once, want 1", c.name, c.server.URL, p)
			}
		})
	}
}

// TestHostLimitsMatchTheTransportsKeys: which URLs a name holds. A name
// with a port holds for that host:port, and for the key without a port
// when the port is 80 or 443 (the Transport drops the scheme's default
// port, and the key does not say which scheme: the limit errs toward
// holding); a name without one holds for every port of the host.
func TestHostLimitsMatchTheTransportsKeys(t *testing.T) {
	own := sluice.Limits{Concurrency: 1, Rate: sluice.PerSecond(5)}
	for _, c := range []struct {
		name string
		url  string
		want bool
	}{
		{"127.0.0.1:80", "http://127.0.0.1:80/x", true},
		{"127.0.0.1:80", "http://127.0.0.1/x", true},
		{"127.0.0.1:80", "https://127.0.0.1/x", true}, // one key for both: erring toward the limit
		{"127.0.0.1:80", "https://127.0.0.1:80/x", true},
		{"127.0.0.1:80", "http://127.0.0.1:8080/x", false},
		{"api.example.com:443", "https://API.example.com./v1", true},
		{"http://api.example.com:443", "https://api.example.com:443/v1", true},
		{"api.example.com:443", "http://api.example.com:8443/v1", false},
		{"api.example.com", "https://api.example.com:8443/v1", true},
		{"API.Example.com..", "http://api.example.com/v1", true},
		{"http://api.example.com/", "https://api.example.com/v1", true},
		{"[::1]", "http://[::1]:9501/", true},
		{"::1", "http://[::1]:9501/", true},
		{"[::1]:9501", "http://[::1]:9501/", true},
		{"[::1]:9501", "http://[::1]:9502/", false},
		{"[::1]:80", "http://[::1]/", true},
		{"[0:0::1]", "http://[::1]/", true}, // another spelling of the address: one key, as net/netip spells it
		{"localhost", "http://127.0.0.1/", false},
		{"127.0.0.1:9102", "http://127.0.0.1:09102/", true},
		{"api.example.com", "http://api.example.com.evil/", false},
	} {
		srv := New(Config{Logger: quiet, HostLimits: map[string]sluice.Limits{c.name: own}})
		req, err := http.NewRequest("GET", c.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		key := srv.transport.KeyOf(req)
		got := srv.transport.LimitsFor(key)
		if applied := got.Rate == own.Rate; applied != c.want {
			t.Errorf("HostLimits[%q] for %s (key %q): applied %v, want %v", c.name, c.url, key, applied, c.want)
		}
		srv.Close()
	}
}

// Both default ports named: the key without a port, which either scheme
// gives, gets the stricter of each, since one gate serves both.
func TestHostLimitsOfBothDefaultPortsTakeTheStricter(t *testing.T) {
	srv := New(Config{Logger: quiet, HostLimits: map[string]sluice.Limits{
		"vm:80":  {Concurrency: 2, Rate: sluice.PerSecond(10)},
		"vm:443": {Concurrency: 4, Rate: sluice.PerSecond(1)},
		"vm":     {Concurrency: 1, Rate: sluice.PerSecond(100)},
	}})
	defer srv.Close()
	got := srv.transport.LimitsFor("vm")
	if got.Concurrency != 2 || got.Rate != sluice.PerSecond(1) {
		t.Errorf("limits of vm %+v, want concurrency 2 and 1/s", got)
	}
	if got := srv.transport.LimitsFor("vm:8080"); got.Concurrency != 1 {
		t.Errorf("limits of vm:8080 %+v, want vm's own", got)
	}
}

func TestHostName(t *testing.T) {
	for _, c := range []struct{ name, want, err string }{
		{"api.github.com", "api.github.com", ""},
		{"API.GitHub.com.", "api.github.com", ""},
		{"api.github.com:443", "api.github.com:443", ""},
		{"h:080", "h:80", ""},
		{"127.0.0.1", "127.0.0.1", ""},
		{"127.0.0.1:80", "127.0.0.1:80", ""},
		{"[::1]", "[::1]", ""},
		{"[::1]:9501", "[::1]:9501", ""},
		{"::1", "[::1]", ""},
		{"FE80::1", "[fe80::1]", ""},
		{"[FE80::1]:8080", "[fe80::1]:8080", ""},
		{"http://127.0.0.1", "127.0.0.1", ""},
		{"http://127.0.0.1:9102", "127.0.0.1:9102", ""},
		{"https://Api.Example.com/", "api.example.com", ""},
		{"https://[::1]:9501/", "[::1]:9501", ""},
		{"http://h:80", "h:80", ""},
		{"", "", "want a host"},
		{"bogus host", "", "a space"},
		{" h", "", "a space"},
		{"...", "", "want a host"},
		{"h:", "", "no port"},
		{"h:0", "", "port"},
		{"h:65536", "", "port"},
		{"h:+80", "", "port"},
		{"h:http", "", "port"},
		{"h/x", "", "path"},
		{"http://h/v1", "", "path"},
		{"http://h?x=1", "", "path"},
		{"ftp://h", "", "ftp URL"},
		{"http://u:p@h", "", "user"},
		{"http://", "", "want a host"},
		{"::1:9501", "", "[::1]:9501 or [::1:9501]?"},
		{"[::1", "", "no ]"},
		{"[::1]x", "", "after the address"},
		{"[::1]:", "", "no port"},
		{"[127.0.0.1]", "", "not an IPv6"},
		{"[fe80::1%eth0]", "", "not an IPv6"},
		{"h:1:2", "", "not a host"},
		{"h*", "", "not a host"},
	} {
		got, err := HostName(c.name)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("HostName(%q) = %q, %v; want %q", c.name, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("HostName(%q) = %q, %v; want an error saying %q", c.name, got, err, c.err)
		}
	}
}

// HostName's answer is its own spelling, and the spelling of the key of
// every URL of that host and port that is not a scheme's default one.
func FuzzHostName(f *testing.F) {
	for _, s := range []string{"h", "H.:080", "[::1]:9501", "::1", "http://x:1/", "a b", "[::1", "h:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := HostName(s)
		if err != nil {
			return
		}
		again, err := HostName(name)
		if err != nil || again != name {
			t.Fatalf("HostName(%q) = %q; HostName of that = %q, %v", s, name, again, err)
		}
		if strings.HasSuffix(name, ":80") || strings.HasSuffix(name, ":443") {
			return
		}
		req, err := http.NewRequest("GET", "http://"+name+"/", nil)
		if err != nil {
			return // a name url.Parse refuses in a URL: no request keys by it
		}
		if key := sluice.HostKey(req.URL); key != name {
			t.Errorf("HostName(%q) = %q, but a URL of it is keyed %q", s, name, key)
		}
	})
}
