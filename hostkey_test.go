package sluice

import (
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
