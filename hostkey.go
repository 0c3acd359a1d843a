package sluice

import (
	"net/url"
	"strings"
)

// hostKey returns the host of u as a gate key, in the one spelling every
// spelling of it shares: DNS names are case-insensitive (VM is vm), a
// fully qualified name's trailing dot names the same host
// (api.example.com. is api.example.com), and the scheme's default port
// is the port a URL without one uses (https://h:443 is https://h), and a
// port is its number (h:080 is h:80). Keyed
// by its spelling, each spelling had limits of its own, so that a caller
// writing one host two ways ran it at twice its limits.
//
// It allocates only for a spelling that needs changing: the common ones,
// lower case with no port or another port, are returned as they are.
func hostKey(u *url.URL) string {
	h := u.Host
	if !needsCanonical(h, u.Scheme) {
		return h
	}
	name, port := h, ""
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		name, port = h[:i], h[i+1:]
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if trimmed := strings.TrimLeft(port, "0"); trimmed != "" {
		port = trimmed // :080 is :80
	}
	if port == "" || isDefaultPort(port, u.Scheme) {
		return name
	}
	return name + ":" + port
}

// needsCanonical reports whether h, a URL's host of the scheme, has an
// upper-case letter, a trailing dot, the scheme's default port, or a port
// written with leading zeros.
func needsCanonical(h, scheme string) bool {
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case 'A' <= c && c <= 'Z':
			return true
		case c == '.' && (i == len(h)-1 || h[i+1] == ':'):
			return true
		case c == ':' && !strings.Contains(h[i:], "]"):
			port := h[i+1:]
			return len(port) > 1 && port[0] == '0' || isDefaultPort(port, scheme)
		}
	}
	return false
}

func isDefaultPort(port, scheme string) bool {
	return port == "80" && scheme == "http" || port == "443" && scheme == "https"
}
