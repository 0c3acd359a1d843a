package main

import (
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/bytesize"
	"github.com/sluicehq/sluice/internal/mcp"
)

// mcpOptions are sluice mcp's flags, turned into an mcp.Config once.
type mcpOptions struct {
	limits             limitFlags
	shared             redisFlags
	globalConc         int
	globalRate         string
	maxBody, keepBytes string
	cfg                mcp.Config
	debug              bool
	config             string
	adaptive           bool
	fromFile           map[string]string // flag name -> "FILE, line N", for flags the file set
}

func newMCP() *cobra.Command {
	var o mcpOptions
	cmd := &cobra.Command{
		Use:   "mcp [flags]",
		Short: "Serve MCP tools that let an agent fetch many URLs within your limits",
		Long: `mcp serves the Model Context Protocol over standard input and output (logs
go to standard error). Register it with an MCP client, e.g. in Claude
Desktop's or Claude Code's configuration:

  {"mcpServers": {"sluice": {"command": "sluice", "args": ["mcp", "--rate", "5/s"]}}}

Its tools: fetch_many (many URLs or HTTP requests in one call; a summary,
the first page of results and a handle), get_results (page through them,
or read one body whole) and cancel (stop a call; what it got stays
readable). A fetch_many still running after --reply-within replies with
its handle and goes on, so that a client that gives up on long requests
loses nothing. The agent cannot exceed the limits set here: every tool
call of every session shares them.

The limit flags (--concurrency, --rate, --burst, --window, --retries,
--timeout, --max-retry-wait) apply to each host on its own: a host that
answers 429 pauses alone. Given as HOST=VALUE they set one host's own
(--rate api.github.com=1/s). HOST is a name or address, with a port
for that port alone (api.example.com:8443, [::1]:9501; without one, every
port), or a URL's http://host[:port]; a port of 80 or 443 also holds for
URLs that leave it out. --global-concurrency and --global-rate bound
all hosts together. --redis URL --key NAME shares all of these limits with
every sluice mcp naming the same key, on any
host: several agents, each with its own sluice mcp, then keep to one set
of limits together.

Requests to loopback, private (RFC 1918, ULA), link-local, CGNAT,
unspecified and cloud-metadata addresses are refused, on the address each
connection is made to and on every redirect, unless --allow-private.

--config FILE reads flags from a YAML file, each by its name; a host's own
values go under hosts. Flags on the command line win over the file:

  global-concurrency: 16
  concurrency: 4
  rate: 5/s
  max-body: 2MiB
  hosts:
    api.github.com: {rate: 1/s, concurrency: 2}`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.config != "" {
				if err := o.readFile(cmd.Flags(), o.config); err != nil {
					return err
				}
			}
			cfg, err := o.mcpConfig()
			if err != nil {
				return o.blameFile(err)
			}
			cfg.Logger = commandLogger(cmd, o.debug)
			cfg.Version = versionString()

			store, closeStore, err := o.shared.store(cfg.Logger)
			if err != nil {
				return o.blameFile(err)
			}
			defer closeStore()
			if store != nil {
				// Every sluice mcp naming the key (one per agent session,
				// on any host) shares each host's limits and the global
				// ones.
				o.shared.share(store, &cfg.Host, cfg.HostLimits)
				cfg.Global.Store = store
			}

			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv := mcp.New(cfg)
			defer srv.Close()
			attrs := []any{"global_concurrency", cfg.Global.Concurrency, "allow_private", cfg.AllowPrivate}
			if store != nil {
				attrs = append(attrs, "shared_through", store.String())
			}
			cfg.Logger.Info("sluice mcp: serving on stdio", attrs...)
			if err := srv.Run(ctx, &mcp.LineTransport{Reader: os.Stdin, Writer: os.Stdout}); err != nil && ctx.Err() == nil {
				return &exitError{code: 1, err: err}
			}
			return nil
		},
	}
	o.add(cmd.Flags())
	return cmd
}

func (o *mcpOptions) add(f *pflag.FlagSet) {
	o.limits.add(f)
	o.shared.add(f) // --redis, --key, --redis-mode (redisflags.go)
	// The limit flags are shared with run and proxy, which key them by
	// model; here a key is a host. The token flags mean nothing for
	// fetches (mcpConfig refuses them): they are not shown.
	f.Lookup("concurrency").Usage = "ceiling on one host's requests in flight (adapts below it unless --adaptive=false), as `[HOST=]N`"
	f.Lookup("rate").Usage = "one host's request rate as `[HOST=]RATE`, e.g. 5/s or api.github.com=1/s (default: none; learned from headers)"
	f.Lookup("timeout").Usage = "per attempt, until the response starts (default 60s)"
	f.Lookup("window").Usage = "strict quota of one host: at most N in any window, as `[HOST=]RATE`, e.g. 100/10s"
	for _, name := range []string{"tokens", "input-tokens", "output-tokens"} {
		f.MarkHidden(name)
	}
	// A host is read once, here, into the spelling of the gate keys: a
	// name no key matched was accepted and limited nothing.
	for _, p := range []*perModel{&o.limits.concurrency, &o.limits.rate, &o.limits.window} {
		p.name = mcp.HostName
	}
	f.BoolVar(&o.adaptive, "adaptive", true, "adapt each host's concurrency ceiling to its health, up to --concurrency (starting at half of it); --adaptive=false keeps it at --concurrency")
	f.IntVar(&o.globalConc, "global-concurrency", mcp.DefaultGlobalConcurrency, "ceiling on requests in flight to all hosts together")
	f.StringVar(&o.globalRate, "global-rate", "", "request rate to all hosts together, e.g. 20/s (default: none)")
	f.IntVar(&o.cfg.MaxItems, "max-items", mcp.DefaultMaxItems, "most URLs or requests in one fetch_many call")
	f.IntVar(&o.cfg.MaxRunning, "max-running", mcp.DefaultMaxRunning, "most fetch_many calls running at once (over it a call is refused, saying so)")
	f.StringVar(&o.maxBody, "max-body", bytesize.Format(mcp.DefaultMaxBody), "most bytes of one response body read and kept (e.g. 512KiB, 2MiB)")
	f.DurationVar(&o.cfg.CallBudget, "call-budget", mcp.DefaultCallBudget, "longest one fetch_many call may run")
	f.DurationVar(&o.cfg.ReplyWithin, "reply-within", mcp.DefaultReplyWithin, "longest a fetch_many waits before it replies: a call still running then replies with its handle and state running, and goes on (clients give up on requests after a while, 60s for some)")
	f.IntVar(&o.cfg.MaxRedirects, "max-redirects", mcp.DefaultMaxRedirects, "redirects one request may follow")
	f.DurationVar(&o.cfg.StoreTTL, "keep", mcp.DefaultStoreTTL, "how long a finished call's results stay readable")
	f.StringVar(&o.keepBytes, "keep-bytes", bytesize.Format(mcp.DefaultStoreBytes), "bodies kept for all calls together; the oldest calls are forgotten first")
	f.BoolVar(&o.cfg.AllowPrivate, "allow-private", false, "allow loopback, private, link-local and metadata addresses")
	f.StringVar(&o.config, "config", "", "read flags from this YAML `FILE` (see above)")
	f.BoolVar(&o.debug, "debug", false, "log more on standard error")
}

// mcpConfig checks the flags and returns the Config they ask for, or a
// usage error naming the flag that is wrong.
func (o *mcpOptions) mcpConfig() (mcp.Config, error) {
	cfg := o.cfg
	l := &o.limits
	for _, f := range []*perModel{&l.tokens, &l.inputTokens, &l.outputTokens} {
		if f.def != "" || len(f.models) > 0 {
			return cfg, usageError("mcp does not take token limits (--tokens, --input-tokens, --output-tokens): its requests are not LLM calls it can estimate")
		}
	}
	var err error
	if cfg.Host, err = l.limits(); err != nil {
		return cfg, err
	}
	cfg.Host.FixedConcurrency = !o.adaptive
	if cfg.HostLimits, err = o.hostLimits(cfg.Host); err != nil {
		return cfg, err
	}
	cfg.Retry = sluice.RetryPolicy{MaxAttempts: l.retries + 1}
	cfg.AttemptTimeout = l.timeout
	if o.globalConc < 1 {
		return cfg, usageError("--global-concurrency %d: want at least 1", o.globalConc)
	}
	cfg.Global.Concurrency = o.globalConc
	if o.globalRate != "" {
		if !strings.Contains(o.globalRate, "/") {
			return cfg, usageError("--global-rate %q: want COUNT/PERIOD such as 50/s", o.globalRate)
		}
		if cfg.Global.Rate, err = sluice.ParseRate(o.globalRate); err != nil {
			return cfg, flagValueError("global-rate", o.globalRate, err)
		}
	}
	if cfg.MaxBody, err = parseSize("max-body", o.maxBody); err != nil {
		return cfg, err
	}
	if cfg.StoreBytes, err = parseSize("keep-bytes", o.keepBytes); err != nil {
		return cfg, err
	}
	if cfg.MaxItems < 1 {
		return cfg, usageError("--max-items %d: want at least 1", cfg.MaxItems)
	}
	if cfg.MaxRunning < 1 {
		return cfg, usageError("--max-running %d: want at least 1", cfg.MaxRunning)
	}
	if cfg.CallBudget <= 0 {
		return cfg, usageError("--call-budget %v: want a positive duration", cfg.CallBudget)
	}
	if cfg.ReplyWithin <= 0 {
		return cfg, usageError("--reply-within %v: want a positive duration", cfg.ReplyWithin)
	}
	if cfg.StoreTTL <= 0 {
		return cfg, usageError("--keep %v: want a positive duration", cfg.StoreTTL)
	}
	if cfg.MaxRedirects <= 0 {
		cfg.MaxRedirects = -1 // --max-redirects 0: none (the Config's 0 means the default)
	}
	return cfg, nil
}

// hostLimits returns the limits of each host given values of its own:
// def with them in place of its defaults, and for a host:port the host's
// own values under its own (--rate h=1/s --concurrency h:8080=2: h:8080
// keeps 1/s), since a name without a port holds for every port.
func (o *mcpOptions) hostLimits(def sluice.Limits) (map[string]sluice.Limits, error) {
	hosts, err := o.limits.modelLimits(def)
	if err != nil {
		return nil, err
	}
	for name := range hosts {
		i := strings.LastIndexByte(name, ':')
		if i < 0 || strings.Contains(name[i:], "]") {
			continue // no port (names are mcp.HostName's: [v6] has its colons inside)
		}
		if _, named := hosts[name[:i]]; !named {
			continue
		}
		lim := def
		if err := o.limits.apply(&lim, name[:i]); err != nil {
			return nil, err
		}
		if err := o.limits.apply(&lim, name); err != nil {
			return nil, err
		}
		hosts[name] = lim
	}
	return hosts, nil
}

// parseSize reads the size flag --flag, which must be positive.
func parseSize(flag, s string) (int64, error) {
	n, err := bytesize.Parse(s)
	if err != nil || n < 1 {
		return 0, usageError("--%s %q: want a positive size such as 1048576, 512KiB or 2MiB", flag, s)
	}
	return n, nil
}
