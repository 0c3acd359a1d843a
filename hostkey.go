package sluice

import (
	"net/netip"
	"net/url"
	"strings"
)

// HostKey returns the key of the gate a Transport with a nil Key sends a
// request for u through: u's host in one spelling, lower case, without
// trailing dots, without its scheme's default port, its port without
// leading zeros, an IPv6 address in brackets ("api.example.com",
// "127.0.0.1:9102", "[::1]:9501"). A URL with no scheme keeps whatever
// port it names. It is how code that gives hosts limits of their own
// (Transport.LimitsFor) reads the hosts it is given the way the
// Transport keys them; it checks nothing (a host that is not one comes
// back in the same spelling). It allocates only for a spelling it
// changes; safe for concurrent use.
func HostKey(u *url.URL) string { return hostKey(u) }

// hostKey returns the host of u as a gate key, in the one spelling every
// spelling of it shares: DNS names are case-insensitive (VM is vm), a
// fully qualified name's trailing dot names the same host
// (api.example.com. is api.example.com), and the scheme's default port
// is the port a URL without one uses (https://h:443 is https://h), a
// port is its number (h:080 is h:80), and an IPv6 address is spelled
// as net/netip spells it ([0:0::1] is [::1]). Keyed
// by its spelling, each spelling had limits of its own, so that a caller
// writing one host two ways ran it at twice its limits.
//
// It allocates only for a spelling that needs changing: the common ones,
// lower case with no port or another port, are returned as they are.
func hostKey(u *url.URL) string {
	if !needsCanonical(u.Host, u.Scheme) {
		return u.Host
	}
	return canonicalHost(u.Host, u.Scheme)
}

// canonicalHost returns h, a URL's host of the scheme, in hostKey's one
// spelling.
func canonicalHost(h, scheme string) string {
	name, port := h, ""
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		name, port = h[:i], h[i+1:]
	}
	name = strings.TrimRight(lowerASCII(name), ".") // all of them: its result is its own spelling
	if len(name) > 2 && name[0] == '[' && name[len(name)-1] == ']' {
		// An IPv6 address has many spellings ([0:0::1] is [::1]).
		if a, err := netip.ParseAddr(name[1 : len(name)-1]); err == nil && a.Is6() && a.Zone() == "" {
			name = "[" + a.String() + "]"
		}
	}
	if trimmed := strings.TrimLeft(port, "0"); trimmed != "" {
		port = trimmed // :080 is :80
	}
	if port == "" || isDefaultPort(port, scheme) {
		return name
	}
	return name + ":" + port
}

// needsCanonical reports whether h, a URL's host of the scheme, has an
// upper-case letter, a trailing dot, the scheme's default port, or a port
// written with leading zeros: whether canonicalHost would change it.
//
// The Transport asks it of every request, so the common spelling costs
// one pass for upper case and a look at the end of h (a byte-by-byte
// switch for everything at once cost 237 instructions a request for
// 127.0.0.1:port, 0.4% of a plain client's).
func needsCanonical(h, scheme string) bool {
	if len(h) > 0 && h[0] == '[' {
		return true // an IPv6 address: netip spells it (rare enough to allocate)
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; 'A' <= c && c <= 'Z' {
			return true
		}
	}
	name := h
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h[i:], ']') < 0 {
		port := h[i+1:]
		if port == "" || port[0] == '0' && len(port) > 1 || isDefaultPort(port, scheme) {
			return true
		}
		name = h[:i]
	}
	return strings.HasSuffix(name, ".")
}

// lowerASCII returns s with its ASCII letters in lower case and every
// other byte as it is: DNS ignores the case of ASCII letters only, and
// strings.ToLower would also change other letters and replace bytes that
// are not UTF-8.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// hasDefaultPort reports whether u's host names its scheme's default port.
func hasDefaultPort(u *url.URL) bool {
	h := u.Host
	return strings.HasSuffix(h, ":80") && u.Scheme == "http" || strings.HasSuffix(h, ":443") && u.Scheme == "https"
}

func isDefaultPort(port, scheme string) bool {
	return port == "80" && scheme == "http" || port == "443" && scheme == "https"
}
