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
