package mcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"

	"github.com/sluicehq/sluice"
)

// RefusedError is the error of a request refused because its address is
// not a public one: loopback, private, link-local, CGNAT, unspecified,
// cloud metadata and the like, which an agent must not reach unless the
// operator allowed it (--allow-private). It names the host as given, the
// address it is or resolves to, and why that address is refused.
type RefusedError struct {
	Host string     // the host as the URL gives it; "" when only the address is known (at connect time)
	Addr netip.Addr // the address refused
	Why  string     // "a loopback address", "the cloud metadata address", ...
}

func (e *RefusedError) Error() string {
	what := e.Addr.String()
	if e.Host != "" && !strings.EqualFold(strings.Trim(e.Host, "[]"), what) {
		what = e.Host + " resolves to " + what + ","
		if _, ok := looseIPv4(e.Host); ok {
			what = e.Host + " is " + e.Addr.String() + " written another way,"
		}
	} else {
		what += " is"
	}
	return "refused: " + what + " " + e.Why + "; start sluice mcp with --allow-private to allow it"
}

// Resolver looks up a host's addresses; *net.Resolver is one. Tests give
// their own to make a name resolve to a chosen address.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// guard refuses addresses that are not public, unless allowed. It checks a
// request's host before it is sent, and every address again when a
// connection is made to it (net.Dialer.Control), so that a name that
// resolved to a public address at the first look and to a private one at
// the second (DNS rebinding) is refused all the same.
type guard struct {
	allowPrivate bool
	resolver     Resolver
	dialer       net.Dialer
	// treatPublic holds addresses judged public whatever they are: tests
	// put their loopback server here to play a public host.
	treatPublic map[netip.Addr]bool
}

func newGuard(allowPrivate bool, r Resolver) *guard {
	if r == nil {
		r = net.DefaultResolver
	}
	g := &guard{allowPrivate: allowPrivate, resolver: r}
	g.dialer.Control = g.control
	return g
}

// checkHost returns a *RefusedError when host is, or resolves to, an
// address that is not public; a lookup error when it does not resolve.
func (g *guard) checkHost(ctx context.Context, host string) error {
	if g.allowPrivate {
		return nil
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if a, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return g.refuse(host, a)
	}
	// Forms a C resolver reads as IPv4 (2130706433, 0177.0.0.1, 0x7f.1,
	// 127.1): Go's does not, but a redirect to a proxy or another client
	// might; refused when the address they stand for is.
	if a, ok := looseIPv4(name); ok {
		return g.refuse(host, a)
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return &RefusedError{Host: host, Addr: netip.IPv6Loopback(), Why: "a loopback address"}
	}
	addrs, err := g.resolver.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if err := g.refuse(host, a); err != nil {
			return err
		}
	}
	return nil
}

// dial connects to one of host's addresses, each checked as it is dialed.
// It resolves through the guard's resolver so that tests can name hosts.
func (g *guard) dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = g.resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("mcp: %s has no address", host)
	}
	var first error
	for _, a := range addrs {
		c, err := g.dialer.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		var refused *RefusedError
		if errors.As(err, &refused) {
			refused.Host = host
			// The first refusal says it all, and no retry will change it.
			// (sluice.Transport classifies transport errors without
			// reading Permanent yet, so a refusal here, which only DNS
			// rebinding can cause after checkHost passed, is retried
			// until its attempts run out.)
			return nil, sluice.Permanent(refused)
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// control runs on the address about to be connected to, after every
// lookup: the last word.
func (g *guard) control(_, address string, _ syscall.RawConn) error {
	if g.allowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("mcp: refused: cannot read the address %q", address)
	}
	return g.refuse("", ap.Addr())
}

// refuse returns a *RefusedError when a is not a public unicast address.
func (g *guard) refuse(host string, a netip.Addr) error {
	if g.treatPublic[a.WithZone("").Unmap()] {
		return nil
	}
	if why := notPublic(a); why != "" {
		return &RefusedError{Host: host, Addr: a.WithZone(""), Why: why}
	}
	return nil
}

var (
	metadataV4 = netip.MustParseAddr("169.254.169.254")
	metadataV6 = netip.MustParseAddr("fd00:ec2::254")
	blocked    = []struct {
		prefix netip.Prefix
		why    string
	}{
		{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified (this-network) address"},
		{netip.MustParsePrefix("10.0.0.0/8"), "a private (RFC 1918) address"},
		{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT (shared) address"},
		{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
		{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address"},
		{netip.MustParsePrefix("172.16.0.0/12"), "a private (RFC 1918) address"},
		{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
		{netip.MustParsePrefix("192.168.0.0/16"), "a private (RFC 1918) address"},
		{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
		{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
		{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
		{netip.MustParsePrefix("::/128"), "an unspecified address"},
		{netip.MustParsePrefix("::1/128"), "a loopback address"},
		{netip.MustParsePrefix("fc00::/7"), "a unique local (private) address"},
		{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
		{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
		{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
	}
	// IPv6 prefixes that carry an IPv4 address in their last 32 bits,
	// which may lead to that address: the IPv4 address is judged.
	embedsV4 = []netip.Prefix{
		netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated)
		netip.MustParsePrefix("64:ff9b::/96"),   // NAT64
		netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	}
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// notPublic says why a is refused, or "" when it is a public address.
func notPublic(a netip.Addr) string {
	a = a.WithZone("").Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	switch a {
	case metadataV4, metadataV6:
		return "the cloud metadata address"
	}
	if !a.IsValid() {
		return "not an address"
	}
	for _, b := range blocked {
		if b.prefix.Contains(a) {
			return b.why
		}
	}
	if a.Is6() {
		b := a.As16()
		for _, p := range embedsV4 {
			if p.Contains(a) {
				if why := notPublic(netip.AddrFrom4([4]byte(b[12:16]))); why != "" {
					return why + " inside an IPv6 address"
				}
			}
		}
		if sixToFour.Contains(a) {
			if why := notPublic(netip.AddrFrom4([4]byte(b[2:6]))); why != "" {
				return why + " inside a 6to4 address"
			}
		}
	}
	return ""
}

// looseIPv4 reads the IPv4 forms inet_aton accepts beyond dotted
// decimal: one to four parts, each decimal, octal (leading 0) or hex (0x),
// the last filling the bytes left (127.1, 2130706433, 0x7f000001,
// 0177.0.0.1). It reports false for anything else, canonical dotted
// decimal included (netip reads that).
func looseIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 || s == "" {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base := 10
		switch {
		case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
			p, base = p[2:], 16
		case len(p) > 1 && p[0] == '0':
			p, base = p[1:], 8
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*i)
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}
