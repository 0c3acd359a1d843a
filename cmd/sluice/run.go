package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/batch"
)

func newRun() *cobra.Command {
	var (
		cfg    batch.Config
		limits limitFlags
		shared redisFlags
		format string
	)
	cmd := &cobra.Command{
		Use:   "run [flags] INPUT",
		Short: "Run a file of requests as fast as the API allows; resumable, nothing lost",
		Long: `run sends every request in INPUT (a file, or - for standard input) through
one set of limits and writes one line per succeeded item to the results file,
and one per failed item to the errors file beside it. Run the same command
again to resume: succeeded items are skipped, failed ones tried again, and
an item whose request changed since its result (method, URL path and query,
body, headers; not the key, nor the base URL: --base-url or a preset's
*_BASE_URL pointing elsewhere re-runs nothing, so --restart when moving from
a mock or staging to the real API) is run again unless --skip-changed.
Ids: custom_id or "id" (a line without one takes its line number);
for urls, the URL (a URL listed twice is fetched once); for csv,
--id-column, else the "id" column, else the line number. --restart moves
earlier results aside (out.1.jsonl) and starts over.
Each results line ends with "sluice": {"fp": "..."}, the request's
fingerprint (a member the batch APIs' own files lack; their readers ignore it).

Input formats (detected, or --format): urls (one URL per line), http (JSONL
{"id","method","url","headers","body"}), openai (Batch API input lines),
anthropic (Message Batches request lines), csv (with --template and --url).

Results go beside the input, its extension replaced: batch.jsonl gives
batch.results.jsonl and batch.errors.jsonl (standard input: stdin.*);
-o out.jsonl gives out.jsonl and out.errors.jsonl. -o - writes results to
standard output (progress and summary stay on standard error); nothing is
resumed then, and errors go to the file named after the input. The errors
file is written only when something failed or a line was bad, in the input
format's shape (openai and anthropic: the Batch APIs' error lines with the
API's answer whole, plus a "sluice" member with class and attempts).
A "metadata" object on an input line, and a csv row's columns the request
does not use, are copied into its results and errors lines.
A response body is kept byte for byte: as "body" (its JSON when it is JSON,
else a string) when it is valid UTF-8, else as "body_base64", the standard
base64 of the bytes as received, in "body"'s place (openai: in "response";
anthropic: in "result", for "message"), as a Latin-1 page, an image or a
gzip body asked for with -H 'Accept-Encoding: gzip' would lose bytes as text.

-o sqlite:answers.db or -o postgres://host/db?search_path=s writes the
results into a database instead, one row per succeeded id (--table, default
sluice_results: the answer as JSON beside the metadata, the request, the
status, attempts and tokens; a body that is not UTF-8 byte for byte in
response_bytes) and the failures into TABLE_errors, with the
same guarantees; --restart renames the earlier tables TABLE_1, TABLE_1_errors.

API keys come from the environment: ANTHROPIC_API_KEY with --api anthropic,
OPENAI_API_KEY with --api openai; -H values may name any ${VARIABLE}. The
base URL is --base-url, else ANTHROPIC_BASE_URL / OPENAI_BASE_URL (as the
SDKs read them), else the API's own; with or without a trailing /v1. Every
run starts by naming (on stderr) where its calls go, the variables that
authenticate them (never their values), the format and the limits.

A run whose first 5 calls all fail alike in a way no retry fixes (401,
403, the same 404 or 400 message) stops there, exit 3, saying what to
change; --keep-going sends every item anyway.

With --api, each model has limits of its own, as the APIs count them: the
limit flags set every model's, and MODEL=VALUE (repeatable) one model's own,
its other limits still the flags' plain values. MODEL is the body's "model",
or a shorter name covering its versions (claude-haiku-4 covers
claude-haiku-4-5-20251001; gpt-4o covers gpt-4o-2024-08-06, not gpt-4o-mini):
  --rate 50/m --rate claude-haiku-4=4000/m -c 8 -c claude-haiku-4=32

Exit codes: 0 all succeeded; 1 some items failed or lines were bad; 2 usage
or input error, nothing sent; 3 stopped early (interrupt, quota exhausted),
everything done so far saved.`,
		Example: `  sluice run --api anthropic --rate 50/m --tokens 40000/m requests.jsonl
  sluice run --api anthropic --rate 50/m --rate claude-haiku-4=4000/m requests.jsonl
  sluice run -c 16 --rate 20/s urls.txt
  cat batch.jsonl | sluice run --api openai -o out.jsonl -`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				// The first thing a new user types: show what it wants.
				fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
				return usageError("run needs INPUT: a file of requests, or - for standard input")
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Input = args[0]
			cfg.Stdin = cmd.InOrStdin()
			cfg.Stdout, cfg.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			var err error
			if cfg.Format, err = batch.ParseFormat(format); err != nil {
				return usageError("--format: %v", err)
			}
			if cfg.Limits, err = limits.limits(); err != nil {
				return err
			}
			if cfg.ModelLimits, err = limits.modelLimits(cfg.Limits); err != nil { // item 12
				return err
			}
			cfg.ModelLimitFlags = limits.modelFlags()
			fitOpenFiles(cfg.Stderr, &cfg.Limits, cfg.ModelLimits)
			store, closeStore, err := shared.store(nil)
			if err != nil {
				return err
			}
			defer closeStore()
			shared.share(store, &cfg.Limits, cfg.ModelLimits)
			cfg.Timeout = limits.timeout
			cfg.Retries = limits.retries
			if cfg.Retries == 0 {
				cfg.Retries = -1 // batch.Config's 0 means the default; the flag's means none
			}

			collectLessOften()
			ctx, abandon, stop := interruptible(cmd.Context(), cmd)
			defer stop()
			cfg.Abandon = abandon
			sum, err := batch.Run(ctx, cfg)
			if !cfg.DryRun && !errors.Is(err, batch.ErrUsage) {
				printSummary(cmd, sum)
			}
			code := batch.ExitCode(sum, err)
			if code == 0 {
				return nil
			}
			if errors.Is(err, batch.ErrStopped) && sum.Stopped != nil && !cfg.DryRun {
				err = nil // the summary said why it stopped: once is enough
			}
			return &exitError{code: code, err: err}
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.Out, "out", "o", "", "results file, JSONL, or - for standard output, or a database: sqlite:PATH or a postgres:// URL (default: INPUT's name, its extension replaced by .results.jsonl)")
	f.StringVar(&cfg.Table, "table", "", "with -o sqlite:PATH or postgres://...: the results table (default sluice_results; failures in TABLE_errors)")
	limits.add(f)
	f.StringVar(&cfg.API, "api", "", "preset: anthropic | openai (base URL, auth from env, token estimates)")
	f.StringVar(&cfg.BaseURL, "base-url", "", "for relative URLs and batch formats")
	f.StringArrayVarP(&cfg.Headers, "header", "H", nil, "extra header 'Key: Value', repeatable; ${ENV} expanded")
	f.StringVar(&format, "format", "auto", "auto | urls | http | openai | anthropic | csv")
	f.StringVar(&cfg.Template, "template", "", "csv: request body template with {{.column}}; {{json .column}} quotes a cell as a JSON string")
	f.StringVar(&cfg.URL, "url", "", "csv: URL template with {{.column}}, put in as it is; {{pathescape .column}} keeps a cell one path segment, {{urlquery .column}} escapes it for a query (default: the url column)")
	f.StringVar(&cfg.Method, "method", "", "csv: method (default POST with --template, else GET)")
	f.BoolVar(&cfg.Ordered, "ordered", false, "write results in input order")
	f.BoolVar(&cfg.Restart, "restart", false, "start over; earlier results are moved aside to a numbered file (out.1.jsonl)")
	f.StringVar(&cfg.Progress, "progress", "auto", "auto | bar | log | none")
	shared.add(f) // --redis, --key, --redis-mode (redisflags.go)
	f.BoolVar(&cfg.DryRun, "dry-run", false, "validate the input and print the plan, reading (never changing) what earlier runs left at the destination; send nothing")
	// Issue 10, item 2: a doomed run stops early unless told otherwise.
	f.BoolVar(&cfg.KeepGoing, "keep-going", false, "send every item even when the first 5 calls all fail alike (401, 403, the same 404/400)")
	// Item 4: resume only what is the same.
	f.BoolVar(&cfg.SkipChanged, "skip-changed", false, "on resume, keep the earlier result of an item whose request changed since (default: run it again)")
	f.StringVar(&cfg.IDColumn, "id-column", "", `csv: the column holding each row's id (default: the "id" column, else the row's line number, which inserting a row shifts)`)
	return cmd
}

// collectLessOften gives the garbage collector twice its usual headroom,
// unless GOGC says otherwise. The runner's live heap is a few MiB (the id
// index lives off the Go heap), so by default the collector runs after
// every few MiB of per-request garbage; at GOGC=200 a run costs about 7%
// less CPU for about 4 MiB more (bench/cmd/runbench -child-env GOGC=200).
func collectLessOften() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
}

// interruptible returns a context ended by the first SIGINT or SIGTERM,
// which stops new calls and lets those in flight finish (up to
// batch.Config.DrainTimeout); a channel closed by the second, which cuts
// the calls in flight at once, so the run ends in a moment with its
// summary (the cut items are left for the next run); and a third exits at
// once with code 3. Results are written whole lines at a time and counted
// only once written, so exiting mid-run loses none that was reported; a
// line cut by the exit is repaired by the next run.
func interruptible(parent context.Context, cmd *cobra.Command) (context.Context, <-chan struct{}, func()) {
	ctx, cancel := context.WithCancel(parent)
	abandon := make(chan struct{})
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
			return
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "sluice: stopping: no new calls; waiting up to %v for those in flight (again to cut them now)\n", batch.DefaultDrainTimeout)
		cancel()
		<-sigs
		fmt.Fprintln(cmd.ErrOrStderr(), "sluice: cutting the calls in flight; they are left for the next run (again to quit now)")
		close(abandon)
		<-sigs
		fmt.Fprintln(cmd.ErrOrStderr(), "sluice: quitting now; results so far are saved")
		os.Exit(3)
	}()
	return ctx, abandon, func() { signal.Stop(sigs); cancel() }
}

func printSummary(cmd *cobra.Command, s batch.Summary) {
	batch.WriteSummary(cmd.ErrOrStderr(), s)
}

// plural is one or many by n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
