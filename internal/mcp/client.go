package mcp

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/credential"
)

// newClient returns the HTTP client every tool call shares: requests go
// through their host's gate (sluice.Transport keyed by host), then the
// global gate (sluice.GateTransport, which counts a call from when it
// leaves, as the host's gate does: an outside review saw 31 arrivals of a
// --global-rate of 30/s in a second over five hosts when it counted from
// admission), then a connection the guard has checked. The host's gate
// comes first so that a paused host holds no global slot while it waits.
func newClient(cfg Config, g *guard) (*http.Client, *sluice.Transport) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.Proxy = nil // a proxy would connect for us, past the guard
	base.DialContext = g.dial
	base.MaxIdleConnsPerHost = max(cfg.Host.Concurrency, sluice.DefaultConcurrency)
	base.MaxIdleConns = max(base.MaxIdleConns, cfg.Global.Concurrency)

	retry := cfg.Retry
	if retry.BudgetMode == sluice.BudgetAuto {
		retry.BudgetMode = sluice.BudgetWait // batch work: the budget paces retries, loses nothing
	}
	// The operator's names of hosts are read into the Transport's
	// spelling of its keys (HostName), and a name with a port holds for
	// the key its URL gets even when the port is the scheme's default
	// (hostLimits.of): a limit under a name no key matched was no limit.
	hosts := newHostLimits(cfg.HostLimits, func(name string, err error) {
		cfg.Logger.Warn("sluice mcp: a host's own limits ignored: not a host", "host", name, "err", err)
	})
	tr := &sluice.Transport{
		Base:           &sluice.GateTransport{Gate: cfg.Global.NewGate(), Base: base},
		Limits:         cfg.Host,
		Retry:          retry,
		AttemptTimeout: cfg.AttemptTimeout,
	}
	if len(hosts) > 0 {
		tr.LimitsFor = func(key string) sluice.Limits {
			if l, ok := hosts.of(key); ok {
				return l
			}
			return cfg.Host
		}
	}
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > cfg.MaxRedirects {
				return fmt.Errorf("refused: more than %d redirects", cfg.MaxRedirects)
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("refused: redirect to a %s URL (only http and https)", req.URL.Scheme)
			}
			// net/http copies each hop's header from the first request's,
			// dropping only Authorization and cookies on another host:
			// every credential goes, on every hop once the host changed.
			for _, r := range append(via[1:], req) {
				if !strings.EqualFold(r.URL.Hostname(), via[0].URL.Hostname()) {
					credential.StripForeign(req.Header)
					break
				}
			}
			// Checked now for a clear error; the connection is checked
			// again when it is made.
			return g.checkHost(req.Context(), req.URL.Hostname())
		},
	}
	return client, tr
}
