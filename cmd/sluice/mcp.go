package main

import (
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/mcp"
)

func newMCP() *cobra.Command {
	var (
		limits             limitFlags
		globalConc         int
		globalRate         string
		maxBody, keepBytes string
		cfg                mcp.Config
		debug              bool
	)
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
readable). The agent cannot exceed the limits set here: every tool call of
every session shares them.

The limit flags (--concurrency, --rate, --burst, --window, --retries,
--timeout, --max-retry-wait) apply to each host on its own: a host that
answers 429 pauses alone. Given as HOST=VALUE they set one host's own
(--rate api.github.com=1/s). --global-concurrency and --global-rate bound
all hosts together.

Requests to loopback, private (RFC 1918, ULA), link-local, CGNAT,
unspecified and cloud-metadata addresses are refused, on the address each
connection is made to and on every redirect, unless --allow-private.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			for _, f := range []*perModel{&limits.tokens, &limits.inputTokens, &limits.outputTokens} {
				if f.def != "" || len(f.models) > 0 {
					return usageError("mcp does not take token limits (--tokens, --input-tokens, --output-tokens): its requests are not LLM calls it can estimate")
				}
			}
			if cfg.Host, err = limits.limits(); err != nil {
				return err
			}
			if cfg.HostLimits, err = limits.modelLimits(cfg.Host); err != nil {
				return err
			}
			cfg.Retry = sluice.RetryPolicy{MaxAttempts: limits.retries + 1}
			cfg.AttemptTimeout = limits.timeout
			if globalConc < 1 {
				return usageError("--global-concurrency %d: want at least 1", globalConc)
			}
			cfg.Global.Concurrency = globalConc
			if globalRate != "" {
				if !strings.Contains(globalRate, "/") {
					return usageError("--global-rate %q: want COUNT/PERIOD such as 50/s", globalRate)
				}
				if cfg.Global.Rate, err = sluice.ParseRate(globalRate); err != nil {
					return flagValueError("global-rate", globalRate, err)
				}
			}
			if cfg.MaxBody, err = parseSize("max-body", maxBody); err != nil {
				return err
			}
			if cfg.StoreBytes, err = parseSize("keep-bytes", keepBytes); err != nil {
				return err
			}
			for name, v := range map[string]int{"max-items": cfg.MaxItems} {
				if v < 1 {
					return usageError("--%s %d: want at least 1", name, v)
				}
			}
			for name, d := range map[string]time.Duration{"call-budget": cfg.CallBudget, "keep": cfg.StoreTTL} {
				if d <= 0 {
					return usageError("--%s %v: want a positive duration", name, d)
				}
			}
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			cfg.Version = versionString()
			if cfg.MaxRedirects == 0 {
				cfg.MaxRedirects = -1 // --max-redirects 0: none
			}

			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv := mcp.New(cfg)
			defer srv.Close()
			cfg.Logger.Info("sluice mcp: serving on stdio", "global_concurrency", globalConc, "allow_private", cfg.AllowPrivate)
			if err := srv.Run(ctx, &sdk.StdioTransport{}); err != nil && ctx.Err() == nil {
				return &exitError{code: 1, err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	limits.add(f)
	f.IntVar(&globalConc, "global-concurrency", mcp.DefaultGlobalConcurrency, "ceiling on requests in flight to all hosts together")
	f.StringVar(&globalRate, "global-rate", "", "request rate to all hosts together, e.g. 20/s (default: none)")
	f.IntVar(&cfg.MaxItems, "max-items", mcp.DefaultMaxItems, "most URLs or requests in one fetch_many call")
	f.StringVar(&maxBody, "max-body", byteFlag(mcp.DefaultMaxBody), "most bytes of one response body read and kept (e.g. 512KiB, 2MiB)")
	f.DurationVar(&cfg.CallBudget, "call-budget", mcp.DefaultCallBudget, "longest one fetch_many call may run")
	f.IntVar(&cfg.MaxRedirects, "max-redirects", mcp.DefaultMaxRedirects, "redirects one request may follow")
	f.DurationVar(&cfg.StoreTTL, "keep", mcp.DefaultStoreTTL, "how long a finished call's results stay readable")
	f.StringVar(&keepBytes, "keep-bytes", byteFlag(mcp.DefaultStoreBytes), "bodies kept for all calls together; the oldest calls are forgotten first")
	f.BoolVar(&cfg.AllowPrivate, "allow-private", false, "allow loopback, private, link-local and metadata addresses")
	f.BoolVar(&debug, "debug", false, "log more on standard error")
	return cmd
}

// byteFlag writes a default size the way parseSize reads it.
func byteFlag(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10)
}

// parseSize reads a size in bytes: 1048576, 512KiB, 2MiB, 1GiB (KB, MB
// and GB are read as powers of 1000).
func parseSize(flag, s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 || n > (1<<62)/mult {
		return 0, usageError("--%s %q: want a positive size such as 1048576, 512KiB or 2MiB", flag, s)
	}
	return n * mult, nil
}
