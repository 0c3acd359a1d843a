package main

import (
	"errors"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/mock"
)

func newMock() *cobra.Command {
	var (
		style, listen, rate, tokens, inTokens, outTokens, latency string
		cfg                                                       mock.Config
		headers                                                   bool
	)
	cmd := &cobra.Command{
		Use:   "mock",
		Short: "Serve a realistic rate-limited LLM-style API on loopback, for tests and demos",
		Long: `mock serves a stand-in for the Anthropic or OpenAI API (or any URL) that
enforces request, token and concurrency limits the way those APIs do, with
their 429 bodies and rate-limit headers, realistic latency, streaming, and
injected faults.

Endpoints, by --style:
  anthropic  POST /v1/messages (stream too), POST /v1/messages/count_tokens
  openai     POST /v1/chat/completions and POST /v1/responses (stream too),
             POST /v1/embeddings
  generic    any method and path: {"method","path","count","body"}, echoing
             the request's body
  every one  GET /__stats: what it saw, as JSON

Limits are buckets: --rate 20/s holds 20 and refills 20 a second, and a
request it cannot cover gets the style's 429 and consumes nothing. The
anthropic and openai styles report limits per minute, as those APIs do
(--rate 20/s is a limit of 1200), with remaining counted in the bucket (at
most 20) and reset when it is full again: the per-minute limit enforced in
one-second slices, as both APIs say they may. A client that works out
used = limit - remaining reads that wrong here; pacing to the limit never
breaks it. The generic style reports the bucket itself (20).

  sluice mock --style anthropic --rate 20/s --concurrency 5 --latency 200ms±100ms
  sluice mock --style generic --rate 20/s --ratelimit-headers=false   (429s only)
  ANTHROPIC_BASE_URL=http://127.0.0.1:8787 your-program
  OPENAI_BASE_URL=http://127.0.0.1:8787/v1 your-program    (with --style openai)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Style = mock.Style(style)
			cfg.NoRateLimitHeaders = !headers
			var err error
			for _, f := range []struct {
				flag, value string
				into        *mock.Limit
			}{{"rate", rate, &cfg.Requests}, {"tokens", tokens, &cfg.Tokens}, {"input-tokens", inTokens, &cfg.InputTokens}, {"output-tokens", outTokens, &cfg.OutputTokens}} {
				if *f.into, err = mock.ParseLimit(f.value); err != nil {
					return flagValueError(f.flag, f.value, err)
				}
			}
			if cfg.Latency, err = mock.ParseLatency(latency); err != nil {
				return usageError("--latency: %v", err)
			}
			if _, err := mock.New(cfg); err != nil {
				return mockConfigError(err)
			}
			srv, err := mock.StartOn(cfg, listen)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			url := srv.URL()
			fmt.Fprintf(cmd.OutOrStdout(), "sluice mock (%s) listening on %s; stats at %s/__stats; Ctrl-C stops\n", style, url, url)
			<-ctx.Done()
			return srv.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&style, "style", "anthropic", "API to imitate: anthropic | openai | generic")
	f.StringVar(&listen, "listen", "127.0.0.1:8787", "address to listen on")
	f.StringVar(&rate, "rate", "", "request limit, a bucket refilled continuously, e.g. 20/s or 1000/m")
	f.StringVar(&tokens, "tokens", "", "token limit (openai: all tokens), e.g. 40000/m")
	f.StringVar(&inTokens, "input-tokens", "", "anthropic input-token limit, e.g. 400000/m")
	f.StringVar(&outTokens, "output-tokens", "", "anthropic output-token limit, e.g. 80000/m")
	f.IntVar(&cfg.Concurrency, "concurrency", 0, "most requests in flight; over it: 429 (0: no limit)")
	f.BoolVar(&headers, "ratelimit-headers", true, "send the style's rate-limit headers; false: limits are said only by 429 and Retry-After")
	f.StringVar(&latency, "latency", "", `time to the first byte: "200ms", "200ms±100ms" or "p50=200ms,p99=2s"`)
	f.Float64Var(&cfg.OutputRate, "output-rate", 0, "output tokens generated per second (0: instant)")
	f.Int64Var(&cfg.Quota, "quota", 0, "openai: tokens the account may spend before insufficient_quota; a request is admitted while the spend is under it, so the last may go over (0: unlimited)")
	f.Float64Var(&cfg.Fail, "fail", 0, "fraction of requests answered 500/502/503/529")
	f.Float64Var(&cfg.Resets, "resets", 0, "fraction of connections reset without an answer")
	f.Float64Var(&cfg.SlowBodies, "slow-bodies", 0, "fraction of bodies dribbled out slowly")
	f.Int64Var(&cfg.Seed, "seed", 0, "seed for latency and faults (0: random)")
	return cmd
}

// mockFlags names the flag that sets each mock.Config field.
var mockFlags = map[string]string{
	"Style": "--style", "Requests": "--rate", "Tokens": "--tokens",
	"InputTokens": "--input-tokens", "OutputTokens": "--output-tokens",
	"Concurrency": "--concurrency", "OutputRate": "--output-rate", "Quota": "--quota",
	"Fail": "--fail", "Resets": "--resets", "SlowBodies": "--slow-bodies",
}

// mockConfigError words a mock.Config error by the flags a user typed,
// not the Go fields behind them.
func mockConfigError(err error) error {
	var ce *mock.ConfigError
	if !errors.As(err, &ce) || mockFlags[ce.Field] == "" {
		return usageError("%v", err)
	}
	msg := mockFlags[ce.Field] + ": " + ce.Err.Error()
	if use := mockFlags[ce.Use]; use != "" {
		msg += " (see " + use + ")"
	}
	return usageError("%s", msg)
}
