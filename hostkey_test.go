package sluice

import (
	"net/http"
	"net/url"
	"testing"
)

// Every spelling of one host is one gate key; other hosts and ports stay
// apart. A reviewer's agent wrote VM for vm and ran it at twice the
// operator's limits.
func TestHostKeyOneSpellingPerHost(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"http://vm/x", "vm"},
		{"http://VM/x", "vm"},
		{"http://Api.Example.COM./x", "api.example.com"},
		{"https://api.example.com:443/x", "api.example.com"},
		{"http://api.example.com:80/x", "api.example.com"},
		{"http://api.example.com.:80/x", "api.example.com"},
		{"https://api.example.com:80/x", "api.example.com:80"},
		{"http://VM:9922/x", "vm:9922"},
		{"http://vm.:9922/x", "vm:9922"},
		{"http://127.0.0.1:9922/x", "127.0.0.1:9922"},
		{"http://[::1]:9922/x", "[::1]:9922"},
		{"http://[::1]/x", "[::1]"},
		{"http://[FE80::1]:80/x", "[fe80::1]"},
		{"http://vm:080/x", "vm"},
		{"http://vm:09922/x", "vm:9922"},
		{"https://vm:0443/x", "vm"},
		{"http://vm:/x", "vm"}, // an empty port is the default one, to net/http
		{"http://[0:0::1]:9922/x", "[::1]:9922"},
		{"http://[0:0:0:0:0:0:0:1]/x", "[::1]"},
		{"http://[::FFFF:1.2.3.4]/x", "[::ffff:1.2.3.4]"},
	} {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := hostKey(u); got != c.want {
			t.Errorf("hostKey(%s) = %q, want %q", c.url, got, c.want)
		}
	}
}

// The spellings that need no change cost no allocation: the Transport
// keys every request.
func TestHostKeyCommonSpellingsDoNotAllocate(t *testing.T) {
	for _, raw := range []string{"http://127.0.0.1:9922/x", "https://api.anthropic.com/v1/messages"} {
		u, _ := url.Parse(raw)
		if n := testing.AllocsPerRun(100, func() { hostKey(u) }); n != 0 {
			t.Errorf("hostKey(%s): %v allocations, want 0", raw, n)
		}
	}
}

// needsCanonical is hostKey's shortcut: a host it passes as it is must be
// one canonicalHost would leave unchanged, or two spellings of one host
// would have limits of their own again.
func FuzzNeedsCanonicalMissesNoSpelling(f *testing.F) {
	for _, h := range []string{"vm", "VM", "vm.", "vm.:80", "vm:080", "vm:0", "vm:443", "127.0.0.1:9922",
		"[::1]", "[::1]:80", "[FE80::1]:8080", "api.example.com", "a:b:c", "[::1]:", "vm:", ".", ":", ""} {
		f.Add(h, "http")
		f.Add(h, "https")
	}
	f.Fuzz(func(t *testing.T, h, scheme string) {
		if !needsCanonical(h, scheme) {
			if got := canonicalHost(h, scheme); got != h {
				t.Errorf("needsCanonical(%q, %q) = false, but its canonical spelling is %q", h, scheme, got)
			}
		}
	})
}

func BenchmarkHostKey(b *testing.B) {
	for _, raw := range []string{"http://127.0.0.1:9922/x", "https://api.anthropic.com/v1/messages"} {
		u, _ := url.Parse(raw)
		b.Run(u.Host, func(b *testing.B) {
			for b.Loop() {
				hostKey(u)
			}
		})
	}
}

// A host key is its own spelling, under any scheme that does not make its
// port a default one: Transport.KeyOf passes a host spelled as the last
// key as it is.
func FuzzHostKeyIsItsOwnSpelling(f *testing.F) {
	for _, h := range []string{"vm", "VM..", "vm.:80", "vm:080", "127.0.0.1:9922", "[FE80::1]:443", "h:0", "a:b:c"} {
		f.Add(h, "http", "https")
		f.Add(h, "https", "http")
	}
	f.Fuzz(func(t *testing.T, h, scheme, other string) {
		if u, err := url.Parse("http://" + h + "/"); err != nil || u.Host != h {
			return // not a host a URL can have (net/url refuses "::")
		}
		key := canonicalHost(h, scheme)
		u := &url.URL{Scheme: other, Host: key}
		if hasDefaultPort(u) {
			return
		}
		if again := canonicalHost(key, other); again != key {
			t.Errorf("canonicalHost(%q, %q) = %q, but spelled again under %s it is %q", h, scheme, key, other, again)
		}
	})
}

// Transport.KeyOf's shortcut: a request spelled as the last key goes to
// that gate, unless its scheme makes the key's port its default one.
func TestKeyOfTheLastKeysSpelling(t *testing.T) {
	tr := &Transport{Base: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 204, Body: http.NoBody, Request: req}, nil
	})}
	for _, c := range []struct{ url, want string }{
		{"https://vm:80/x", "vm:80"},
		{"https://vm:80/x", "vm:80"}, // the last key, spelled alike
		{"http://vm:80/x", "vm"},     // spelled alike, but 80 is http's own port
		{"http://VM/x", "vm"},
	} {
		req, _ := http.NewRequest("GET", c.url, nil)
		if got := tr.KeyOf(req); got != c.want {
			t.Errorf("KeyOf(%s) = %q, want %q", c.url, got, c.want)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
}

// HostKey is the Transport's own key: what LimitsFor is asked about.
func TestHostKeyIsTheTransportsKey(t *testing.T) {
	var tr Transport
	for _, raw := range []string{"http://VM.:80/x", "https://[::1]:0443/", "http://127.0.0.1:9102/", "http://api.example.com:8080"} {
		req, _ := http.NewRequest("GET", raw, nil)
		if got, want := HostKey(req.URL), tr.KeyOf(req); got != want {
			t.Errorf("HostKey(%s) = %q, the Transport keys it %q", raw, got, want)
		}
	}
	if got := HostKey(&url.URL{Host: "VM:080"}); got != "vm:80" {
		t.Errorf("HostKey(//VM:080) = %q, want vm:80: with no scheme, no port is the default", got)
	}
}
