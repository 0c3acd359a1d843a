package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
)

// Preset says which API a route's upstream is: it picks how requests are
// sorted into gates (each model its own, for the LLM APIs) and the shape
// of the errors the proxy itself answers with.
type Preset string

// The presets.
const (
	Anthropic Preset = "anthropic"
	OpenAI    Preset = "openai"
	Generic   Preset = "generic"
)

// ParsePreset returns the preset named s; "" means the one the upstream's
// host suggests (api.anthropic.com, api.openai.com), else Generic.
func ParsePreset(s string, upstream *url.URL) (Preset, error) {
	switch p := Preset(strings.ToLower(s)); p {
	case Anthropic, OpenAI, Generic:
		return p, nil
	case "":
		host := ""
		if upstream != nil {
			host = upstream.Hostname()
		}
		switch {
		case strings.HasSuffix(host, "anthropic.com"):
			return Anthropic, nil
		case strings.HasSuffix(host, "openai.com"):
			return OpenAI, nil
		}
		return Generic, nil
	}
	return "", fmt.Errorf("proxy: preset %q: want anthropic, openai or generic", s)
}

func (p Preset) llm() bool { return p == Anthropic || p == OpenAI }

// Defaults of a Route's optional fields, each written here only.
const (
	DefaultQueueSize = 1000
	DefaultMaxWait   = 30 * time.Second
)

// A Route sends the requests whose path starts with Prefix to one
// upstream, through one set of limits. It is plain data, so that a
// configuration file can describe several; the Server builds each route's
// Transport when it opens.
//
// The zero values of the optional fields work: every path, the zero
// Limits, DefaultQueueSize, DefaultMaxWait, the zero RetryPolicy (which
// fails fast on the retry budget, as live traffic should).
type Route struct {
	// Prefix is the path prefix the route serves; "" means every path.
	// The path is sent upstream unchanged, after the upstream's own path,
	// unless StripPrefix.
	Prefix string
	// StripPrefix removes Prefix from the path sent upstream, so that
	// /anthropic/v1/messages goes to the upstream's /v1/messages.
	StripPrefix bool
	// Upstream is where the requests go: scheme and host, and a path
	// that is put before the request's. Required.
	Upstream *url.URL
	// Preset is the upstream's API; "" means ParsePreset's guess.
	Preset Preset
	// Limits builds each gate. LLM presets have a gate per model
	// (sluice.KeyByModel), each with these limits.
	Limits sluice.Limits
	// Models gives models limits of their own, in place of Limits, by
	// the names sluice.ModelLimits matches; LLM presets only.
	Models map[string]sluice.Limits
	// PerKey gives each API key (x-api-key or Authorization, hashed) its
	// own gates.
	PerKey bool
	// Redis is the URL of a Redis through which the route's limits are
	// shared by every proxy naming it (the redis field; key: the
	// upstream's host and the prefix). The command builds the store from
	// it into Limits.Store; the proxy itself only carries it.
	Redis string
	// RedisMode is what the route does while its Redis does not answer
	// (the redis_mode field): "local" or "" (its share of the limits, in
	// memory), "open" or "closed", as --redis-mode. The command reads
	// it; the proxy only carries it.
	RedisMode string
	// RedisKey names the shared limits in Redis (the redis_key field);
	// "" means the upstream's host and the prefix. Proxies whose routes
	// name the same key share one set of limits, whatever their
	// prefixes.
	RedisKey string
	// RedisProcesses is how many processes share the route's key (the
	// redis_processes field, as --redis-processes): with redis_mode local,
	// a proxy that has never reached Redis takes this share of the
	// limits. 0 means 1, the whole limit.
	RedisProcesses int
	// QueueSize is how many requests may wait for admission at once;
	// more are refused at once with 429. 0 means DefaultQueueSize.
	QueueSize int
	// MaxWait is the longest a request waits for admission; one that
	// the limits say would wait longer is refused at once with 429.
	// 0 means DefaultMaxWait.
	MaxWait time.Duration
	// Retry says what the proxy retries upstream, within the client's
	// patience.
	Retry sluice.RetryPolicy
	// AttemptTimeout bounds each attempt's wait for the response headers;
	// 0 means no bound but the client's.
	AttemptTimeout time.Duration
	// MaxBody is the largest request body the route takes, in bytes; a
	// larger one is refused with 413 before it uses any quota. The body
	// is kept in memory for retries. 0 means DefaultMaxBody.
	MaxBody int64
	// Base sends the requests upstream; nil means a clone of
	// http.DefaultTransport.
	Base http.RoundTripper
}

// route is a Route being served.
type route struct {
	Route
	tr     *sluice.Transport
	models *sluice.ModelLimits // the LLM presets' gate per model
	rp     *httputil.ReverseProxy
	queued atomic.Int64 // requests waiting for admission
	budget *bodyBudget  // the server's, for the bodies of its requests (budget.go)
	// tokenBudget: a token limit applies, its own or a model's, so each
	// request's tokens are estimated before it queues (tokenfit.go).
	tokenBudget bool
	log         logger
	obs         *routeObs    // its counters (metrics.go)
	quota       quotaHalts   // the gates halted for quota, for their probe (quotaprobe.go)
	live        liveSet      // the requests admitted or queued, for a Shutdown to cut (shutdown_cut.go)
	holdTime    atomic.Int64 // nanoseconds an admitted request holds its slot, a moving mean (noteHold)
	streams     liveStreams  // the event streams being sent (streamcut.go)
	promises    promises     // when the clients it refused were told to come back (promise.go)
}

// halted logs, once per gate, that a's gate halted because the
// upstream said its quota is exhausted (err, the upstream's answer):
// from then on the proxy answers its requests itself (refuse.go), and the
// operator must know why. The gate is named by host and model, never by
// the API key's hash.
func (r *route) halted(a *admission, err error) {
	key := a.gateKey
	if !r.quota.halted(key) {
		return
	}
	gate, _, _ := strings.Cut(key, "#")
	r.log.warn(fmt.Sprintf("route halted: the upstream's quota is exhausted; its requests are refused, and one is let through every %v to see whether it was raised", quotaProbeAfter),
		"route", r.obs.label, "gate", gate, "upstream_said", upstreamMessage(err))
}

// validate reports what is wrong with r, naming the field.
func (r *Route) validate() error {
	if r.Upstream == nil || r.Upstream.Host == "" || (r.Upstream.Scheme != "http" && r.Upstream.Scheme != "https") {
		return errors.New("proxy: route upstream: want an http or https URL with a host")
	}
	if r.Prefix != "" && !strings.HasPrefix(r.Prefix, "/") {
		return fmt.Errorf("proxy: route prefix %q: want a path starting with /", r.Prefix)
	}
	if r.QueueSize < 0 {
		return fmt.Errorf("proxy: route queue size %d: want 0 (the default) or more", r.QueueSize)
	}
	if r.MaxWait < 0 {
		return fmt.Errorf("proxy: route max wait %v: want 0 (the default) or more", r.MaxWait)
	}
	if r.MaxBody < 0 {
		return fmt.Errorf("proxy: route max body %d: want 0 (the default) or more", r.MaxBody)
	}
	preset, err := ParsePreset(string(r.Preset), r.Upstream)
	if err != nil {
		return err
	}
	r.Preset = preset
	l := r.Limits
	if !r.Preset.llm() && (!l.Tokens.IsZero() || !l.InputTokens.IsZero() || !l.OutputTokens.IsZero()) {
		// The generic preset cannot estimate a request's tokens.
		return errors.New("proxy: token limits need the anthropic or openai preset")
	}
	if !r.Preset.llm() && len(r.Models) > 0 {
		return errors.New("proxy: limits per model need the anthropic or openai preset")
	}
	return nil
}

func (r *route) queueSize() int64 {
	if r.QueueSize == 0 {
		return DefaultQueueSize
	}
	return int64(r.QueueSize)
}

func (r *route) maxWait() time.Duration {
	if r.MaxWait == 0 {
		return DefaultMaxWait
	}
	return r.MaxWait
}

// newRoute builds what serves r.
func newRoute(r Route, log logger) *route {
	rt := &route{Route: r, log: log, models: &sluice.ModelLimits{Default: r.Limits, Models: r.Models}, tokenBudget: r.tokenLimited()}
	base := r.Base
	if base == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// Enough idle connections that the proxy never opens one under
		// load for want of a kept one.
		tr.MaxIdleConnsPerHost = max(256, r.Limits.Concurrency)
		tr.MaxIdleConns = 0 // no bound across hosts: there is one
		// The client's Accept-Encoding goes upstream as it is, and the
		// answer comes back as sent: no gzip asked for on the client's
		// behalf, and no decompressing.
		tr.DisableCompression = true
		base = tr
	}
	rt.tr = &sluice.Transport{
		Base:           admittedBase{base},
		Limits:         r.Limits,
		Key:            rt.key,
		Retry:          r.Retry,
		AttemptTimeout: r.AttemptTimeout,
		MaxBodyBuffer:  rt.maxBody(),
	}
	if len(r.Models) > 0 {
		rt.tr.LimitsFor = rt.limitsFor
	}
	upstream := r.Upstream
	rt.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The upstream is the route's, whatever the request says:
			// SetURL also sets the Host header to the upstream's.
			if r.StripPrefix {
				stripPrefix(pr.Out.URL, r.Prefix)
			}
			pr.SetURL(upstream)
			// The proxy has the whole body already, and its server said
			// 100 Continue for it: passed on, the header had the
			// upstream say it again, and the client got two (outside
			// review).
			pr.Out.Header.Del("Expect")
			// The proxy's own headers (X-Sluice-Priority,
			// X-Sluice-Timeout) are for it alone.
			for name := range pr.Out.Header {
				if strings.HasPrefix(name, "X-Sluice-") {
					delete(pr.Out.Header, name)
				}
			}
		},
		Transport: respondedTransport{RoundTripper: rt.tr, route: rt},
		// FlushInterval 0: the ReverseProxy flushes every write of a
		// stream (text/event-stream, or a body of unknown length), so
		// that events pass through as they come and the status and
		// headers go before the first of them; a body of known length
		// goes out in as few writes as it can. Flushing every response
		// (-1) cost a timer, a goroutine and two more write calls per
		// request, a quarter of the proxy's CPU against an instant
		// upstream.
		BufferPool:   &copyBuffers,
		ErrorHandler: rt.fail,
		ErrorLog:     log.std(),
	}
	return rt
}

// key is the Transport's Key: the upstream's host, the model for the LLM
// presets, and a hash of the API key with PerKey. The hash is truncated
// and salted by nothing: it tells keys apart, it is never shown.
func (r *route) key(req *http.Request) string {
	k := req.URL.Host
	if r.Preset.llm() {
		k = r.models.Key(req)
	}
	if r.PerKey {
		if secret := apiKey(req.Header); secret != "" {
			sum := sha256.Sum256([]byte(secret))
			k += "#" + hex.EncodeToString(sum[:8])
		}
	}
	if a := admissionOf(req.Context()); a != nil {
		a.gateKey = k
	}
	return k
}

// limitsFor is the Transport's LimitsFor with Models: the key's model's
// limits, the key's hash of the API key aside.
func (r *route) limitsFor(key string) sluice.Limits {
	if r.PerKey {
		if i := strings.LastIndexByte(key, '#'); i >= 0 {
			key = key[:i]
		}
	}
	return r.models.LimitsFor(key)
}

// stripPrefix removes prefix from u's path, leaving at least "/".
func stripPrefix(u *url.URL, prefix string) {
	prefix = strings.TrimSuffix(prefix, "/")
	u.Path = strings.TrimPrefix(u.Path, prefix)
	if raw, ok := strings.CutPrefix(u.RawPath, prefix); ok {
		u.RawPath = raw
	} else {
		u.RawPath = "" // the escaped form did not start with it: rebuilt from Path
	}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path, u.RawPath = "/"+u.Path, ""
	}
}

// apiKey returns the credential a request carries, "" when none.
func apiKey(h http.Header) string {
	if k := h.Get("X-Api-Key"); k != "" {
		return k
	}
	return h.Get("Authorization")
}

// priorityHeader carries a request's priority: an integer, higher first.
const priorityHeader = "X-Sluice-Priority"

// priority returns the request's priority, 0 when it gives none or an
// unreadable one (a bad header must not refuse a call).
func priority(h http.Header) int {
	if len(h[priorityHeader]) == 0 {
		return 0 // most requests: no Atoi error to allocate
	}
	p, err := strconv.Atoi(strings.TrimSpace(h.Get(priorityHeader)))
	if err != nil {
		return 0
	}
	return p
}

// stats returns the route's counters.
func (r *route) stats() RouteStats {
	return RouteStats{Prefix: r.Prefix, Gates: r.tr.Stats(), Queued: r.queued.Load()}
}

// RouteStats is a snapshot of a route's counters.
type RouteStats struct {
	Prefix string
	// Gates adds up the route's gates (one per model and key).
	Gates sluice.GateStats
	// Queued is the requests waiting for admission now.
	Queued int64
}
