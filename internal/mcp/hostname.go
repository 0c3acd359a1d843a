package mcp

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice"
)

// HostName reads an operator's name of a host (a key of
// Config.HostLimits, the HOST of --rate HOST=RATE) and returns it in the
// spelling of the Transport's gate keys (sluice.HostKey): "host" or
// "host:port", lower case, without trailing dots, the port a number, an
// IPv6 address in brackets. It takes host, host:port, [v6], [v6]:port, a
// bare IPv6 address (::1) and a URL scheme://host[:port] (its host; a
// path beyond / is refused). A name that is not a host (empty, spaces, a
// bad port, a path) is an error, said once where the name is read: a
// limit under a name no request is keyed by was silently no limit at all
// (an outside tester ran [::1] and http://127.0.0.1:9102 at the default
// limits).
//
// A port the name gives is kept, even a scheme's default one: how a name
// with a port matches a key without one is hostLimits's business.
func HostName(name string) (string, error) {
	hostport := name
	if strings.Contains(name, "://") {
		u, err := url.Parse(name)
		switch {
		case err != nil:
			return "", errors.New("not a URL or host")
		case u.Scheme != "http" && u.Scheme != "https":
			return "", fmt.Errorf("a %s URL: want a host, or an http or https URL", u.Scheme)
		case u.User != nil:
			return "", errors.New("a URL with a user: want a host")
		case u.Path != "" && u.Path != "/", u.RawQuery != "", u.ForceQuery, u.Fragment != "":
			return "", errors.New("a URL with a path: want a host, limits are per host")
		}
		hostport = u.Host
	}
	if hostport == "" {
		return "", errors.New("want a host")
	}
	if !strings.HasPrefix(hostport, "[") && strings.Count(hostport, ":") > 1 {
		if err := checkBareIPv6(hostport); err != nil {
			return "", err
		}
		hostport = "[" + hostport + "]"
	}
	host, port := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return "", errors.New("an IPv6 address with no ]")
		}
		addr, err := netip.ParseAddr(hostport[1:end])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", fmt.Errorf("%s is not an IPv6 address", hostport[:end+1])
		}
		host, port = hostport[:end+1], hostport[end+1:]
		if port != "" && port[0] != ':' {
			return "", fmt.Errorf("%q after the address: want [v6] or [v6]:PORT", port)
		}
		port = strings.TrimPrefix(port, ":")
		if port == "" && strings.HasSuffix(hostport, ":") {
			return "", errors.New("no port after the colon")
		}
	} else {
		if i := strings.IndexByte(hostport, ':'); i >= 0 {
			host, port = hostport[:i], hostport[i+1:]
			if port == "" {
				return "", errors.New("no port after the colon")
			}
		}
		if err := checkName(host); err != nil {
			return "", err
		}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
			return "", fmt.Errorf("port %q: want a number from 1 to 65535", port)
		}
		host += ":" + strconv.Itoa(n)
	}
	// No scheme: HostKey lowers the case and trims the dots, and keeps
	// the port as a number, whatever it is.
	return sluice.HostKey(&url.URL{Host: host}), nil
}

// checkBareIPv6 checks an IPv6 address written without brackets. One
// whose last group could be a port (::1:9501 is an address, and so is
// ::1, with port 9501) is refused rather than read one way: the operator
// meant one of the two, and the other would limit nothing.
func checkBareIPv6(s string) error {
	addr, err := netip.ParseAddr(s)
	if err != nil || !addr.Is6() || addr.Zone() != "" {
		return errors.New("not a host (an IPv6 address with a port goes in brackets: [v6]:PORT)")
	}
	i := strings.LastIndexByte(s, ':')
	if p, err := strconv.Atoi(s[i+1:]); err == nil && p >= 1 && p <= 65535 && strings.TrimLeft(s[i+1:], "0123456789") == "" {
		if prefix, err := netip.ParseAddr(s[:i]); err == nil && prefix.Is6() {
			return fmt.Errorf("[%s]:%s or [%s]? write the address in brackets", s[:i], s[i+1:], s)
		}
	}
	return nil
}

// checkName refuses a host name with a byte no host has: a space, a
// control byte, or one of a URL's delimiters. Other bytes, letters of
// other scripts included, are left to DNS.
func checkName(host string) error {
	if strings.Trim(host, ".") == "" {
		return errors.New("want a host")
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-', c == '_', c >= 0x80:
		case c == ' ':
			return errors.New("not a host: a space")
		case c == '/':
			return errors.New("not a host: a path (a URL wants scheme://)")
		default:
			return fmt.Errorf("not a host: %q", c)
		}
	}
	return nil
}

// hostLimits are the operator's limits of some hosts, keyed by HostName.
type hostLimits map[string]sluice.Limits

// newHostLimits reads the names of m with HostName; a name it refuses
// is dropped with a warning (sluice mcp refuses them before).
func newHostLimits(m map[string]sluice.Limits, warn func(name string, err error)) hostLimits {
	out := make(hostLimits, len(m))
	for name, l := range m {
		key, err := HostName(name)
		if err != nil {
			warn(name, err)
			continue
		}
		out[key] = l
	}
	return out
}

// of returns the limits of the gate key: a name with the key's port
// first, then the name of its host, which holds for every port. A key
// has no port when its URL's was the scheme's default (80 for http, 443
// for https) and the key does not say which: a name with port 80 or 443
// holds for it, the stricter of the two if both are named, since the
// one gate serves both (erring toward the operator's limits).
func (h hostLimits) of(key string) (sluice.Limits, bool) {
	host, port := key, ""
	if i := strings.LastIndexByte(key, ':'); i >= 0 && !strings.Contains(key[i:], "]") {
		host, port = key[:i], key[i+1:]
	}
	if port != "" {
		if l, ok := h[key]; ok {
			return l, true
		}
	} else {
		l80, ok80 := h[host+":80"]
		l443, ok443 := h[host+":443"]
		switch {
		case ok80 && ok443:
			return stricter(l80, l443), true
		case ok80:
			return l80, true
		case ok443:
			return l443, true
		}
	}
	l, ok := h[host]
	return l, ok
}

// stricter returns limits that hold to both a and b: each ceiling and
// rate the lower of the two.
func stricter(a, b sluice.Limits) sluice.Limits {
	if b.Concurrency > 0 && (a.Concurrency <= 0 || b.Concurrency < a.Concurrency) {
		a.Concurrency = b.Concurrency
	}
	a.FixedConcurrency = a.FixedConcurrency || b.FixedConcurrency
	a.Rate = slower(a.Rate, b.Rate)
	a.Window = slower(a.Window, b.Window)
	a.Burst = min(a.Burst, b.Burst) // 0 is 1: evenly spaced
	return a
}

// slower returns the slower of two rates; a zero rate is no limit.
func slower(a, b sluice.Rate) sluice.Rate {
	switch {
	case a.IsZero():
		return b
	case b.IsZero():
		return a
	case b.PerSec() < a.PerSec():
		return b
	}
	return a
}
