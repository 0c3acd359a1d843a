package main

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sluicehq/sluice/internal/demo"
	"github.com/sluicehq/sluice/internal/mock"
)

func newDemo() *cobra.Command {
	cfg := demo.Default()
	var rate, latency, progress string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Send one batch naively and through sluice against a local mock API, side by side",
		Long: `demo starts a mock LLM API on loopback (offline; nothing leaves the machine)
and sends the same batch twice: naively, a goroutine per call with the SDKs'
default retries, and through sluice with no limits given. It takes about 30
seconds and prints what the API saw of each.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.Rate, err = mock.ParseLimit(rate); err != nil {
				return flagValueError("rate", rate, err)
			}
			if cfg.Latency, err = mock.ParseLatency(latency); err != nil {
				return usageError("--latency: %v", err)
			}
			if cfg.Requests < 1 || cfg.Concurrency < 0 {
				return usageError("--requests must be at least 1 and --concurrency not negative")
			}
			out := cmd.OutOrStdout()
			switch progress {
			case "auto":
				if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					cfg.Progress = bars(cmd.ErrOrStderr())
				}
			case "bar":
				cfg.Progress = bars(cmd.ErrOrStderr())
			case "none":
			default:
				return usageError("--progress %q: want auto, bar or none", progress)
			}
			fmt.Fprintf(out, "Sending %d calls twice to a mock API on loopback (about %v each way at best)...\n",
				cfg.Requests, cfg.Minimum().Round(1e8))
			report, err := demo.Run(cmd.Context(), cfg)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintln(out)
			report.Print(out)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Requests, "requests", cfg.Requests, "calls to send each way")
	f.StringVar(&rate, "rate", "20/s", "the mock API's request limit")
	f.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "the mock API's concurrency limit")
	f.StringVar(&latency, "latency", "200ms±100ms", "the mock API's response time")
	f.StringVar(&progress, "progress", "auto", "auto | bar | none")
	return cmd
}

// bars returns a progress callback drawing one bar per side on w.
func bars(w io.Writer) func(side string, done, failed, total int) {
	var mu sync.Mutex
	current := map[string]*progressbar.ProgressBar{}
	return func(side string, done, failed, total int) {
		mu.Lock()
		defer mu.Unlock()
		bar, ok := current[side]
		if !ok {
			bar = progressbar.NewOptions(total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription(fmt.Sprintf("%-6s", side)),
				progressbar.OptionShowCount(),
				progressbar.OptionSetWidth(30),
				progressbar.OptionClearOnFinish(),
			)
			current[side] = bar
		}
		bar.Describe(fmt.Sprintf("%-6s %3d failed", side, failed))
		bar.Set(done)
	}
}
