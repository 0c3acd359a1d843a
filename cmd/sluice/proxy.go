package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/bytesize"
	"github.com/sluicehq/sluice/internal/proxy"
)

func newProxy() *cobra.Command {
	var (
		limits                limitFlags
		shared                redisFlags
		upstream, listen, pre string
		route                 proxy.Route
		allowRemote, debug    bool
		adaptive              bool
		grace                 time.Duration
		config, maxBody       string
		bodyBudget            string
	)
	cmd := &cobra.Command{
		Use:   "proxy (--upstream URL | --config FILE) [flags]",
		Short: "Serve a local gateway that keeps every program on the host within an API's limits",
		Long: `proxy listens on loopback and sends every request it gets to --upstream,
through one set of limits: point any program's base URL at it, in any
language, and they all share them.

  sluice proxy --upstream https://api.anthropic.com --rate 50/m --tokens 40000/m
  ANTHROPIC_BASE_URL=http://127.0.0.1:8787 your-program

Over the limit a request waits in a queue (at most --queue of them), by
X-Sluice-Priority (an integer, higher first) then arrival, for at most
--max-wait; when the queue is full or the limits say the wait would be
longer, it is refused at once with 429, Retry-After, retry-after-ms and
RateLimit headers, and an error body in the API's style; the clients
refused in a burst are told moments one admission interval apart (never
sooner than the limits could admit them), so that their retries do not
come back in one wave. Upstream 429, 529 and transient
errors are retried inside the proxy (--retries), but only while the client
still waits: the SDKs say how long in X-Stainless-Timeout (others may send
X-Sluice-Timeout, such as 30s, or Request-Timeout in seconds), and past it
the client gets a 504 in the API's style a little before it would give up.
Bodies over --max-body get 413 before they use any quota, and so does a
request whose estimated tokens (prompt and max_tokens) exceed a token
budget's whole period: it could never be admitted. A request the upstream
refuses without doing the work (a 4xx, a 429) gives its token estimate
back; count_tokens costs no tokens. A path with a dot segment (/../, also
percent-encoded) gets 400. A connection the upstream refuses is tried
once more, then answered 502 at once, saying so. When the upstream says
the quota is exhausted (insufficient_quota) the model's requests are
refused from then on with x-should-retry: false and Retry-After: 60, and
a warning is logged. X-Sluice-*
headers are the proxy's and are not sent on. Streams pass through as they
come. With the anthropic and openai presets each model has its own
limits, as the APIs count them; with --per-key each API key too (keys are
hashed, never logged). Only --upstream is reachable: absolute URLs and
CONNECT are refused. GET /healthz answers ok, /metrics serves Prometheus
metrics, and /__sluice/ a live status page (a browser's GET / leads there);
every minute a summary line per route is logged.

SIGINT or SIGTERM stops accepting and lets queued and in-flight requests
finish for up to --grace; a second one stops at once.

--config FILE serves several routes, each a path prefix sent to its own
upstream with its own limits, instead of --upstream and the route's flags
(--preset, the limits, --adaptive, --per-key, --queue, --max-wait,
--max-body, --retries, --timeout, --max-retry-wait), which it excludes. --listen and
--body-budget override the file's listen and body_budget, and --allow-remote
adds to its allow_remote; --grace and --debug apply as ever. Every field (a mistake names its file, line and
field; unknown fields are mistakes):

` + indent(proxy.ConfigHelp, "  "),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			collectLessOften() // as run's: a small live heap and garbage per request
			budget, err := bytesize.Parse(bodyBudget)
			if err != nil || budget < 1 {
				return usageError("--body-budget %q: want a size such as 256MiB (KiB, MiB, GiB or bytes)", bodyBudget)
			}
			if grace < 0 {
				return usageError("--grace %v: want 0 (stop at once) or more", grace)
			}
			if cmd.Flags().Changed("listen") {
				if err := proxy.CheckListen(listen); err != nil {
					return usageError("--listen %v", err)
				}
			}
			if config != "" {
				if !cmd.Flags().Changed("body-budget") {
					budget = 0 // the file's, else the default
				}
				return proxyConfig(cmd, config, listen, allowRemote, debug, grace, budget)
			}
			if upstream == "" {
				return usageError("proxy needs --upstream URL, the API to send requests to, or --config FILE")
			}
			u, err := url.Parse(upstream)
			if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
				return usageError("--upstream %q: want an http or https URL, such as https://api.anthropic.com", upstream)
			}
			route.Upstream = u
			if route.Preset, err = proxy.ParsePreset(pre, u); err != nil {
				return usageError("--preset %q: want anthropic, openai or generic", pre)
			}
			if route.Limits, err = limits.limits(); err != nil {
				return err
			}
			route.Limits.FixedConcurrency = !adaptive
			if route.Models, err = limits.modelLimits(route.Limits); err != nil {
				return err
			} else if len(route.Models) > 0 && route.Preset == proxy.Generic {
				return usageError("MODEL=VALUE limits need --preset anthropic or openai: the generic preset does not read the model")
			}
			if l := route.Limits; route.Preset == proxy.Generic && (!l.Tokens.IsZero() || !l.InputTokens.IsZero() || !l.OutputTokens.IsZero()) {
				return usageError("--tokens, --input-tokens and --output-tokens need --preset anthropic or openai: the generic preset cannot estimate a request's tokens")
			}
			logger := commandLogger(cmd, debug)
			store, closeStore, err := shared.store(logger)
			if err != nil {
				return err
			}
			defer closeStore()
			shared.share(store, &route.Limits, route.Models)
			route.Retry = sluice.RetryPolicy{MaxAttempts: max(limits.retries, 0) + 1}
			route.AttemptTimeout = limits.timeout
			if route.QueueSize < 1 {
				return usageError("--queue %d: want at least 1", route.QueueSize)
			}
			if route.MaxWait <= 0 {
				return usageError("--max-wait %v: want a positive duration", route.MaxWait)
			}
			if route.MaxBody, err = bytesize.Parse(maxBody); err != nil || route.MaxBody < 1 {
				return usageError("--max-body %q: want a size such as 32MiB (KiB, MiB, GiB or bytes)", maxBody)
			}
			srv := &proxy.Server{
				Addr:        listen,
				AllowRemote: allowRemote,
				Routes:      []proxy.Route{route},
				Logger:      logger,
				BodyBudget:  budget,
			}
			boundHeap(budget)
			if !proxy.IsLoopback(listen) {
				if !allowRemote {
					return usageError("--listen %s is not a loopback address: anyone who can reach it could use the API keys clients send; add --allow-remote to mean it", listen)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "sluice: warning: listening on %s, beyond this host: anyone who can reach it can send requests to %s\n", listen, shownUpstream(u))
			}
			if err := srv.Open(); err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "sluice proxy (%s) on %s -> %s; limits: %s; queue %d, max wait %v, max body %s, body budget %s; Ctrl-C stops\n",
				route.Preset, srv.URL(), shownUpstream(u), proxy.DescribeLimits(route), route.QueueSize, route.MaxWait, bytesize.Format(route.MaxBody), bytesize.Format(budget))
			if store != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "sluice proxy: limits shared through %s\n", store)
			}
			return serveUntilSignalled(cmd, srv, grace)
		},
	}
	f := cmd.Flags()
	f.StringVar(&upstream, "upstream", "", "the API to send requests to, e.g. https://api.anthropic.com")
	f.StringVar(&listen, "listen", proxy.DefaultListen, "address to listen on (loopback unless --allow-remote)")
	f.BoolVar(&allowRemote, "allow-remote", false, "allow a --listen address beyond loopback")
	f.StringVar(&pre, "preset", "", "anthropic | openai | generic (default: from the upstream's host)")
	limits.add(f)
	// The limit flags' words are run's; the proxy's differ.
	f.Lookup("retries").Usage = "retries per request of 429, 529 and transient errors, within the client's timeout (0: none)"
	f.Lookup("timeout").Usage = "per attempt, until the response starts (default: none but the client's timeout)"
	shared.add(f) // --redis, --key, --redis-mode (redisflags.go)
	f.BoolVar(&adaptive, "adaptive", true, "adapt the concurrency ceiling to the upstream's health, up to -c; --adaptive=false keeps it at -c")
	f.IntVar(&route.QueueSize, "queue", proxy.DefaultQueueSize, "most requests waiting for admission; more get 429 at once")
	f.DurationVar(&route.MaxWait, "max-wait", proxy.DefaultMaxWait, "longest a request waits for admission; longer predicted waits get 429 at once")
	f.StringVar(&maxBody, "max-body", bytesize.Format(proxy.DefaultMaxBody), "largest request body (kept for retries); larger get 413 at once")
	f.StringVar(&bodyBudget, "body-budget", bytesize.Format(proxy.DefaultBodyBudget), "request bodies held in memory at once by requests waiting or in flight, all routes together; more wait for room, within --max-wait (a body larger than it is served alone)")
	f.BoolVar(&route.PerKey, "per-key", false, "limits per API key (x-api-key or Authorization, hashed)")
	f.DurationVar(&grace, "grace", 30*time.Second, "on SIGTERM, how long queued and in-flight requests may finish")
	f.BoolVar(&debug, "debug", false, "log one line per request to stderr")
	f.StringVar(&config, "config", "", "serve the routes of this YAML `FILE` (see above) instead of --upstream")
	return cmd
}

// routeFlags are the flags that describe the one route of --upstream,
// which --config describes in its file instead.
var routeFlags = []string{"upstream", "preset", "concurrency", "rate", "burst", "window", "tokens",
	"input-tokens", "output-tokens", "retries", "timeout", "max-retry-wait", "queue", "max-wait", "max-body", "per-key", "adaptive", "redis", "key", "redis-mode", "redis-processes"}

// fileAdvice says where the file gives what the route flag name gives.
func fileAdvice(name string) string {
	switch name {
	case "key":
		return "in the file give redis_key: in each route (default: its upstream's host and prefix)"
	case "redis-mode":
		return "give redis_mode: (local, open or closed) in each route, next to its redis:"
	}
	return "give " + strings.ReplaceAll(name, "-", "_") + ": in each route instead"
}

// proxyConfig serves the routes of the configuration file path.
// A bodyBudget of 0 leaves the file's.
func proxyConfig(cmd *cobra.Command, path, listen string, allowRemote, debug bool, grace time.Duration, bodyBudget int64) error {
	for _, name := range routeFlags {
		if cmd.Flags().Changed(name) {
			return usageError("--%s and --config: the file describes the routes; %s", name, fileAdvice(name))
		}
	}
	cfg, err := proxy.LoadConfig(path)
	if err != nil {
		return usageError("%v", err)
	}
	if cmd.Flags().Changed("listen") {
		cfg.Listen = listen
	} else if err := cfg.RemoteListen(); err != nil && !allowRemote {
		return usageError("%v", err)
	}
	cfg.AllowRemote = cfg.AllowRemote || allowRemote
	if bodyBudget > 0 {
		cfg.BodyBudget = bodyBudget
	}
	boundHeap(cmp.Or(cfg.BodyBudget, proxy.DefaultBodyBudget))
	logger := commandLogger(cmd, debug)
	stores, closeStores, err := shareRoutes(cfg.Routes, logger)
	if err != nil {
		return err
	}
	defer closeStores()
	if !proxy.IsLoopback(cfg.Listen) {
		if !cfg.AllowRemote {
			return usageError("--listen %s is not a loopback address: anyone who can reach it could use the API keys clients send; add --allow-remote to mean it", cfg.Listen)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "sluice: warning: listening on %s, beyond this host: anyone who can reach it can send requests to the routes' upstreams\n", cfg.Listen)
	}
	srv := &proxy.Server{
		Addr:        cfg.Listen,
		AllowRemote: cfg.AllowRemote,
		Routes:      cfg.Routes,
		Logger:      logger,
		BodyBudget:  cfg.BodyBudget,
	}
	if err := srv.Open(); err != nil {
		return &exitError{code: 1, err: err}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "sluice proxy on %s, %d %s from %s, body budget %s; Ctrl-C stops\n", srv.URL(), len(cfg.Routes), plural(len(cfg.Routes), "route", "routes"), path, bytesize.Format(cmp.Or(cfg.BodyBudget, proxy.DefaultBodyBudget)))
	for i, r := range cfg.Routes {
		prefix := r.Prefix
		if prefix == "" {
			prefix = "/"
		}
		maxBody := r.MaxBody
		if maxBody == 0 {
			maxBody = proxy.DefaultMaxBody
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "  %s -> %s (%s); limits: %s; queue %d, max wait %v, max body %s\n",
			prefix, shownUpstream(r.Upstream), r.Preset, proxy.DescribeLimits(r), r.QueueSize, r.MaxWait, bytesize.Format(maxBody))
		if stores[i] != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "    limits shared through %s\n", stores[i])
		}
	}
	return serveUntilSignalled(cmd, srv, grace)
}

// boundHeap sets the Go runtime's soft memory limit from the body budget,
// unless GOMEMLIMIT sets one: the budget bounds the bodies the proxy
// holds, but the collector, paced by GOGC (200 here, collectLessOften),
// would let the heap grow to three times them before collecting the
// bodies already answered, as an outside review measured (2.8 GiB of RSS
// for 800 MiB of bodies). The limit leaves room for the budget's bodies,
// as much again of garbage, and a base for the rest; above it the
// collector works harder rather than the heap growing, and a heap that
// truly needs more still gets it (the limit is soft).
func boundHeap(budget int64) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(2*budget + heapBase)
	}
}

// heapBase is the part of boundHeap's memory limit that is not bodies:
// the connections', queues' and gates' memory and their garbage.
const heapBase = 128 << 20

// indent puts prefix before every line of s.
func indent(s, prefix string) string {
	lines := strings.SplitAfter(strings.TrimSuffix(s, "\n"), "\n")
	return prefix + strings.Join(lines, prefix)
}

// serveUntilSignalled waits for SIGINT or SIGTERM, then shuts srv down,
// giving requests grace to finish; a second signal closes it at once.
func serveUntilSignalled(cmd *cobra.Command, srv *proxy.Server, grace time.Duration) error {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	select {
	case <-sigs:
	case <-cmd.Context().Done():
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "sluice: stopping: no new requests; up to %v for those queued and in flight (again to quit now)\n", grace)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel() // Shutdown then closes what is left
		case <-ctx.Done():
		}
	}()
	if err := srv.Shutdown(ctx); err != nil {
		return &exitError{code: 3, err: fmt.Errorf("stopped with requests unfinished: %w", err)}
	}
	return nil
}

// shownUpstream is an upstream URL as the proxy prints it: its password
// and its query's values hidden, since an API may take its key there
// (Gemini's ?key=) and the start line must never show a key.
func shownUpstream(u *url.URL) string {
	c := *u
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			q[k] = []string{"xxxxx"}
		}
		c.RawQuery = q.Encode()
	}
	return c.Redacted()
}

// commandLogger returns the logger of a serving command (proxy, mcp):
// text lines on its stderr, debug ones too with --debug.
func commandLogger(cmd *cobra.Command, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
}
