package mcp

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

func TestNotPublic(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"127.0.0.1", "a loopback address"},
		{"127.255.0.9", "a loopback address"},
		{"::1", "a loopback address"},
		{"::ffff:127.0.0.1", "a loopback address"},
		{"10.1.2.3", "a private (RFC 1918) address"},
		{"172.16.0.1", "a private (RFC 1918) address"},
		{"172.31.255.255", "a private (RFC 1918) address"},
		{"192.168.1.1", "a private (RFC 1918) address"},
		{"::ffff:192.168.1.1", "a private (RFC 1918) address"},
		{"fd12:3456::1", "a unique local (private) address"},
		{"169.254.1.1", "a link-local address"},
		{"fe80::1%eth0", "a link-local address"},
		{"100.64.0.1", "a carrier-grade NAT (shared) address"},
		{"100.127.255.254", "a carrier-grade NAT (shared) address"},
		{"0.0.0.0", "an unspecified (this-network) address"},
		{"::", "an unspecified address"},
		{"169.254.169.254", "the cloud metadata address"},
		{"fd00:ec2::254", "the cloud metadata address"},
		{"::ffff:169.254.169.254", "the cloud metadata address"},
		{"64:ff9b::7f00:1", "a loopback address inside an IPv6 address"},
		{"2002:c0a8:0101::1", "a private (RFC 1918) address inside a 6to4 address"},
		{"224.0.0.1", "a multicast address"},
		{"8.8.8.8", ""},
		{"100.128.0.1", ""},
		{"172.32.0.1", ""},
		{"2606:4700::1111", ""},
		{"64:ff9b::808:808", ""},
	}
	for _, tc := range tests {
		if got := notPublic(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("notPublic(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestLooseIPv4(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" for not an IPv4 form
	}{
		{"2130706433", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"0x7f.0.0.1", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"017700000001", "127.0.0.1"},
		{"3232235777", "192.168.1.1"},
		{"1.2.3.4", "1.2.3.4"},
		{"256.1.1.1", ""},
		{"1.2.3.4.5", ""},
		{"4294967296", ""},
		{"example.com", ""},
		{"08.1.1.1", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, ok := looseIPv4(tc.in)
		if (tc.want == "") == ok || ok && got.String() != tc.want {
			t.Errorf("looseIPv4(%q) = %v, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

func FuzzLooseIPv4(f *testing.F) {
	for _, s := range []string{"2130706433", "0177.0.0.1", "0x7f.1", "127.1", "1.2.3.4", "a.b", "...", "0x", "00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := looseIPv4(s)
		if !ok {
			return
		}
		if !a.Is4() {
			t.Fatalf("looseIPv4(%q) = %v, not IPv4", s, a)
		}
		if canon, err := netip.ParseAddr(s); err == nil && canon.Is4() && canon != a {
			t.Fatalf("looseIPv4(%q) = %v, netip reads %v", s, a, canon)
		}
	})
}

// TestSSRFRefused sends the forms an agent (or a page it reads) might
// use to reach this machine or its network, all at a live loopback
// server: each must fail alone with a clear refusal, and none reach it.
func TestSSRFRefused(t *testing.T) {
	var hits atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "secret")
	}))
	defer api.Close()
	p := port(t, api.URL)
	resolver := &fakeResolver{answers: map[string][]netip.Addr{
		"loopback.test": {netip.MustParseAddr("127.0.0.1")},
		// DNS rebinding: public at the check, loopback at the connection.
		"rebind.test": {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1")},
	}}
	cfg := Config{Resolver: resolver}
	cfg.Retry.MaxAttempts = 1
	_, cs := session(t, cfg, nil)
	cases := []struct{ url, want string }{
		{"http://127.0.0.1:" + p + "/", "refused: 127.0.0.1 is a loopback address; start sluice mcp with --allow-private to allow it"},
		{"http://[::1]:" + p + "/", "refused: ::1 is a loopback address"},
		{"http://[::ffff:127.0.0.1]:" + p + "/", "refused: ::ffff:127.0.0.1 is a loopback address"},
		{"http://2130706433:" + p + "/", "refused: 2130706433 is 127.0.0.1 written another way, a loopback address"},
		{"http://0177.0.0.1:" + p + "/", "refused: 0177.0.0.1 is 127.0.0.1 written another way, a loopback address"},
		{"http://0x7f.1:" + p + "/", "refused: 0x7f.1 is 127.0.0.1 written another way, a loopback address"},
		{"http://localhost:" + p + "/", "refused: localhost resolves to ::1, a loopback address"},
		{"http://localhost.:" + p + "/", "refused: localhost. resolves to ::1, a loopback address"},
		{"http://LocalHost:" + p + "/", "refused: LocalHost resolves to ::1, a loopback address"},
		{"http://loopback.test:" + p + "/", "refused: loopback.test resolves to 127.0.0.1, a loopback address"},
		{"http://rebind.test:" + p + "/", "refused: rebind.test resolves to 127.0.0.1, a loopback address"},
		{"http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is the cloud metadata address"},
		{"http://[fd00:ec2::254]/latest/meta-data/", "refused: fd00:ec2::254 is the cloud metadata address"},
		{"http://10.0.0.1/", "refused: 10.0.0.1 is a private (RFC 1918) address"},
		{"http://192.168.0.1/", "refused: 192.168.0.1 is a private (RFC 1918) address"},
		{"http://100.64.0.1/", "refused: 100.64.0.1 is a carrier-grade NAT (shared) address"},
		{"http://[fe80::1]/", "refused: fe80::1 is a link-local address"},
		{"http://0.0.0.0:" + p + "/", "refused: 0.0.0.0 is an unspecified (this-network) address"},
	}
	list := make([]string, len(cases))
	for i, c := range cases {
		list[i] = c.url
	}
	rep, res := callTool(t, cs, "fetch_many", map[string]any{"urls": list, "page_size": 100, "max_length": 100})
	if res.IsError || rep.Summary.Failed != len(cases) || rep.Summary.ByError["refused"] != len(cases) {
		t.Errorf("summary %+v; want every item refused, no tool error", rep.Summary)
	}
	for i, c := range cases {
		it := rep.Items[i]
		if it.ErrorClass != "refused" || !strings.HasPrefix(it.Error, c.want) {
			t.Errorf("%s: %s %q; want refused %q", c.url, it.ErrorClass, it.Error, c.want)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback server was reached %d times", n)
	}
	if n := resolver.lookups["rebind.test"]; n < 2 {
		t.Errorf("rebind.test looked up %d times; the connection's own lookup was not checked", n)
	}
}

// TestSSRFRedirectToPrivateRefused follows a public host (a loopback
// server the test treats as public) that redirects to private addresses.
func TestSSRFRedirectToPrivateRefused(t *testing.T) {
	var secret atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/secret" {
			secret.Add(1)
		}
		switch r.URL.Path {
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/to-localhost":
			http.Redirect(w, r, "http://localhost:"+port(t, "http://"+r.Host)+"/secret", http.StatusFound)
		case "/to-decimal":
			http.Redirect(w, r, "http://2130706434:"+port(t, "http://"+r.Host)+"/secret", http.StatusFound)
		case "/to-file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/to-public":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			fmt.Fprint(w, "public page")
		}
	}))
	defer api.Close()
	resolver := &fakeResolver{answers: map[string][]netip.Addr{"public.test": {netip.MustParseAddr("127.0.0.1")}}}
	cfg := Config{Resolver: resolver, MaxRedirects: 3, Logger: quiet}
	cfg.Retry.MaxAttempts = 1
	srv := New(cfg)
	srv.fetcher.guard.treatPublic = map[netip.Addr]bool{netip.MustParseAddr("127.0.0.1"): true}
	cs := connect(t, srv, nil)
	base := "http://public.test:" + port(t, api.URL)
	rep, _ := callTool(t, cs, "fetch_many", map[string]any{"urls": []string{
		base + "/to-metadata", base + "/to-localhost", base + "/to-decimal", base + "/to-file", base + "/loop", base + "/to-public",
	}})
	want := []string{
		"refused: 169.254.169.254 is the cloud metadata address",
		"refused: localhost resolves to ::1, a loopback address",
		"refused: 2130706434 is 127.0.0.2 written another way, a loopback address",
		"refused: redirect to a file URL (only http and https)",
		"refused: more than 3 redirects",
	}
	for i, w := range want {
		if it := rep.Items[i]; it.ErrorClass != "refused" || !strings.HasPrefix(it.Error, w) {
			t.Errorf("%s: %s %q; want refused %q", it.URL, it.ErrorClass, it.Error, w)
		}
	}
	if it := rep.Items[5]; !it.OK || it.Text != "public page" {
		t.Errorf("a redirect within the public host: %+v", it)
	}
	if n := secret.Load(); n != 0 {
		t.Errorf("redirects reached /secret %d times", n)
	}
}
