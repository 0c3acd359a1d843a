package batch

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/table"
)

// plan is a run that has been checked and is ready to start.
type plan struct {
	cfg    *Config
	preset *preset
	input  io.ReadCloser
	reader *input.Reader
	dest   destination // the results: a JSONL journal or a database table
	// checkID says why an id cannot be stored at the destination (nil
	// when any can): such an item is a bad line, found before it is sent.
	checkID func(id string) error
	seen    *journal.Index
	// earlier is what a dry run found at the destination (earlier.go).
	earlier earlier
	header  http.Header
	tr      *sluice.Transport
	shape   input.Shape
	counts  counts
	stderr  *lockedWriter // bad-line reports and progress share it

	readErr atomic.Pointer[error]

	// Issue 10, items 1-3: where the calls go, and the run's doom detector.
	base, baseFrom string // the base URL, and where it came from (see baseURL)
	doom           *doom
	// badMu orders queueing bad lines' errors lines with flushing them, so
	// that a flush knows how many of the errors lines it wrote were bad
	// lines (counted as bad when read) rather than failed items.
	badMu     sync.Mutex
	badQueued int // bad lines' errors lines queued since the last flush
	// Item 4: request fingerprints (fingerprint.go).
	fp      fingerprinter
	changed atomic.Int64 // done items whose request changed since
	// readOpts are the reader's options, for a second reader of the
	// input (supersede.go).
	readOpts input.Options
	// spoolDir is where a body over spoolAbove is spooled: beside the
	// results file, or the system's temporary directory for standard
	// output; "" for a database, which holds bodies whole (spool.go).
	spoolDir string
	// timeout is the attempt timeout: of the wait for headers, and of a
	// body that stops arriving (stall.go).
	timeout time.Duration
	// models follows which names of Config.ModelLimits the input uses
	// (modeluse.go); nil when there are none, or all is known.
	models *modelUse
}

func newPlan(ctx context.Context, cfg *Config) (*plan, error) {
	p := &plan{cfg: cfg}
	if cfg.toDatabase() {
		p.checkID = table.IDCheck(cfg.Out)
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	p.stderr = &lockedWriter{w: cfg.Stderr}
	switch cfg.API {
	case "":
	case "anthropic", "openai":
		p.preset = presets[cfg.API]
	default:
		return nil, usage("--api %q: want anthropic or openai", cfg.API)
	}
	if p.preset == nil && len(cfg.ModelLimits) > 0 {
		return nil, usage("limits for one model (MODEL=VALUE) need --api: only the LLM APIs are limited per model")
	}
	if err := checkProgress(cfg.Progress); err != nil {
		return nil, err
	}
	p.base, p.baseFrom = p.baseURL()
	base := p.base
	format := cfg.Format
	if format == "" {
		format = input.FormatAuto
	}
	header, err := p.headers()
	if err != nil {
		return nil, err
	}
	p.header = header

	if cfg.Table != "" && !cfg.toDatabase() {
		return nil, usage("--table %s: tables are for -o sqlite:PATH or -o postgres://...; -o %q is a file", cfg.Table, cfg.resultsName())
	}
	switch {
	case cfg.Restart && cfg.resultsToStdout():
		return nil, usage("--restart with -o -: results on standard output keep nothing to start over from")
	case cfg.Restart && cfg.SkipChanged:
		return nil, usage("--restart with --skip-changed: a restart keeps no earlier result to skip")
	}
	switch cfg.Input {
	case "":
		return nil, usage("no input: give a file, or - for standard input")
	case "-":
		if cfg.Stdin == nil {
			return nil, usage("no standard input")
		}
		p.input = io.NopCloser(cfg.Stdin)
	default:
		f, err := os.Open(cfg.Input)
		if err != nil {
			return nil, usageErr(err)
		}
		p.input = f
		results := cfg.resultsPath()
		switch {
		case cfg.resultsToStdout():
			results = "" // no file: nothing to compare
		case cfg.toDatabase():
			results = table.File(cfg.Out) // "" for PostgreSQL
		}
		if err := notTheInput(f, results); err != nil {
			f.Close()
			return nil, err
		}
	}
	// An input that cannot be read at all is a usage error, found before
	// anything is created or sent.
	buffered := bufio.NewReaderSize(p.input, 64<<10)
	if _, err := buffered.Peek(1); err != nil && err != io.EOF {
		p.input.Close()
		return nil, usage("reading %s: %v", p.inputName(), err)
	}
	start := window(buffered) // before the reader consumes it
	opts := input.Options{Format: format, BaseURL: base, Template: cfg.Template, URL: cfg.URL, Method: cfg.Method, IDColumn: cfg.IDColumn, Check: p.estimateCheck(), Done: ctx.Done()}
	p.reader, err = input.NewReader(buffered, opts)
	if err != nil {
		p.input.Close()
		if p.baseFrom != "" && p.baseFrom != "--base-url" && strings.Contains(err.Error(), "base URL") {
			err = fmt.Errorf("%w (from %s)", err, p.baseFrom)
		}
		return nil, usageErr(err)
	}
	p.readOpts = opts
	p.readOpts.Format = p.reader.Format()
	p.doom = newDoom(cfg, p)
	p.shape = input.ShapeOf(p.reader.Format())
	p.models = newModelUse(cfg.ModelLimits)
	fits := func() error {
		if err := p.checkFormat(); err != nil {
			return err
		}
		return p.checkItems(start, opts)
	}
	if cfg.DryRun {
		if err := fits(); err != nil {
			p.input.Close()
			return nil, err
		}
		p.readEarlier(ctx) // read only: a dry run opens nothing for writing
		return p, nil
	}
	if p.preset != nil {
		if key := cfg.getenv(p.preset.keyEnv); key == "" {
			p.input.Close()
			return nil, usage("%s is not set: the %s API needs a key", p.preset.keyEnv, cfg.API)
		}
	}
	if err := fits(); err != nil {
		p.input.Close()
		return nil, err
	}
	if cfg.toDatabase() {
		p.dest, err = p.openTable(ctx)
	} else {
		p.dest, err = p.openJournal()
	}
	if err != nil {
		p.input.Close()
		return nil, err
	}
	p.reportJournal()
	p.seen = p.dest.Done()
	p.doom.resuming = p.seen.Len() > 0
	p.tr = p.transport()
	fmt.Fprintf(p.stderr, "sluice: %s\n", p.describe()) // before anything is sent, on every run
	p.warnTwins()
	p.warnModelsEarly(start, opts)
	return p, nil
}

// notTheInput refuses a results file that is the input itself: the input
// would be read back as results and then appended to.
func notTheInput(input *os.File, results string) error {
	in, err := input.Stat()
	if err != nil {
		return usageErr(err)
	}
	if in.IsDir() {
		return usage("%s is a directory", input.Name())
	}
	if out, err := os.Stat(results); err == nil && os.SameFile(in, out) {
		return usage("the results file %s is the input itself: choose another with -o", results)
	}
	return nil
}

// openJournal opens the JSONL results and errors files.
func (p *plan) openJournal() (destination, error) {
	cfg := p.cfg
	jopts := journal.Options{ResultsPath: cfg.resultsPath(), ErrorsPath: cfg.errorsFile(), Restart: cfg.Restart, Fingerprint: input.LineFingerprint}
	if cfg.resultsToStdout() {
		jopts.ResultsPath, jopts.Results = stdoutName, cfg.Stdout
		fmt.Fprintf(p.stderr, "sluice: results to standard output: nothing is resumed (a rerun sends every item again); errors to %s\n", jopts.ErrorsPath)
	}
	j, err := journal.Open(jopts, input.ValidLineID)
	if err != nil {
		return nil, usageErr(err)
	}
	p.spoolDir = os.TempDir()
	if jopts.Results == nil {
		// Beside the results, on their disk: a temporary directory can be
		// memory (tmpfs), and small.
		p.spoolDir = filepath.Dir(jopts.ResultsPath)
	}
	return jsonlFile{j, p.shape}, nil
}

func (p *plan) close() {
	if p.dest != nil {
		p.dest.Close()
	}
	if p.input != nil {
		p.input.Close()
	}
	if p.tr != nil {
		p.tr.CloseIdleConnections()
	}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// headers builds the headers every request carries: the preset's, then
// -H, with ${ENV} expanded. A value that cannot be sent (a line break, or
// the \r a CRLF .env file leaves) is refused here, naming the header and
// its variables, never the value: net/http would refuse every attempt
// before sending it, and a run would retry each item for nothing.
func (p *plan) headers() (http.Header, error) {
	h := http.Header{}
	expand := func(v string) string {
		return envRef.ReplaceAllStringFunc(v, func(m string) string { return p.cfg.getenv(m[2 : len(m)-1]) })
	}
	if p.preset != nil {
		for k, v := range p.preset.headers {
			if x := expand(v); input.ValidHeaderValue(x) {
				h.Set(k, x)
			} else {
				return nil, usage("the %s header, from %s: the value has a control character or line break (a .env file with CRLF line ends leaves a \\r)", http.CanonicalHeaderKey(k), strings.Join(envRef.FindAllString(v, -1), ", "))
			}
		}
	}
	for _, kv := range p.cfg.Headers {
		k, v, ok := strings.Cut(kv, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, usage("-H %q: want 'Key: Value'", kv)
		}
		v = strings.TrimSpace(v)
		x := expand(v)
		switch {
		case input.ValidHeaderValue(x):
			h.Set(k, x)
		case input.ValidHeaderValue(v): // the variables brought it
			return nil, usage("-H %q: the value, from %s, has a control character or line break (a .env file with CRLF line ends leaves a \\r)", k+": "+v, strings.Join(envRef.FindAllString(v, -1), ", "))
		default:
			return nil, usage("-H %q: the value has a control character or line break", k)
		}
	}
	return h, nil
}

func (p *plan) transport() *sluice.Transport {
	cfg := p.cfg
	limits := cfg.Limits
	if limits.MaxPause == 0 {
		limits.MaxPause = cfg.MaxRetryWait
	}
	attempts := 0 // the policy's own default, sluice.DefaultMaxAttempts
	switch {
	case cfg.Retries < 0:
		attempts = 1
	case cfg.Retries > 0:
		attempts = cfg.Retries + 1
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
		if p.preset != nil {
			timeout = 10 * time.Minute
		}
	}
	p.timeout = timeout
	base := cfg.Base
	if base == nil {
		base = stallBase(limits.HTTPTransport(), timeout)
	}
	tr := &sluice.Transport{
		Base:   base,
		Limits: limits,
		// A batch is paced by its retry budget, never thinned by it: a
		// retry the budget refuses waits for it, holding no slot.
		Retry:          sluice.RetryPolicy{MaxAttempts: attempts, Budget: &sluice.RetryBudget{}, BudgetMode: sluice.BudgetWait},
		AttemptTimeout: timeout,
	}
	if p.preset != nil || !limits.Tokens.IsZero() || !limits.InputTokens.IsZero() || !limits.OutputTokens.IsZero() {
		tr.Usage = sluice.ScanUsage // token budgets to settle
	}
	if p.preset != nil {
		// A gate per model (models.go): the APIs limit each separately.
		own := make(map[string]sluice.Limits, len(cfg.ModelLimits))
		for name, l := range cfg.ModelLimits {
			if l.MaxPause == 0 {
				l.MaxPause = cfg.MaxRetryWait
			}
			own[name] = l
		}
		m := &sluice.ModelLimits{Default: limits, Models: own}
		tr.Key, tr.LimitsFor = m.Key, m.LimitsFor
	}
	return tr
}

// reportBad prints a bad line to stderr and queues its errors line (issue
// 10, item 8), in the input format's shape.
func (p *plan) reportBad(b input.BadLine) {
	fmt.Fprintf(p.stderr, "%s: %v\n", p.inputName(), b)
	if p.dest == nil {
		return // a dry run writes no file
	}
	p.badMu.Lock()
	defer p.badMu.Unlock()
	if p.dest.QueueBadLine(b) == nil {
		p.badQueued++ // a refusal is the journal's failure, which the next flush reports
	}
}

// flushJournal writes the queued lines and returns how many were results
// and how many failed items (bad lines' errors lines not counted).
func (p *plan) flushJournal() (results, failed int, err error) {
	p.badMu.Lock()
	defer p.badMu.Unlock()
	results, failed, err = p.dest.Flush()
	if failed > 0 { // the whole queue went, bad lines' lines with it
		failed -= p.badQueued
		p.badQueued = 0
	}
	return results, failed, err
}

func (p *plan) inputName() string {
	if p.cfg.Input == "-" {
		return "stdin"
	}
	return p.cfg.Input
}

// request builds the HTTP request for an item.
//
// An item the reader made carries its URL parsed: the request is built
// around it as http.NewRequestWithContext would, without that function's
// url.Parse (of "" when the URL is given afterwards, which costs as much
// as parsing the URL), and, when neither the item nor the run adds a
// header of its own, with the run's header map shared rather than copied
// into a new one. Sharing is sound because a RoundTripper must not change
// the request (net/http's contract, which the Transport keeps); a request
// whose header is changed here gets a map of its own.
func (p *plan) request(ctx context.Context, it input.Item) (*http.Request, error) {
	parsed := it.ParsedURL()
	if parsed == nil {
		return p.requestParsing(ctx, it)
	}
	tmpl := http.Request{
		Method: it.Method, URL: parsed, Host: parsed.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
	if it.Body != nil {
		// As http.NewRequest does for a *bytes.Reader.
		body := it.Body
		tmpl.ContentLength = int64(len(body))
		if len(body) == 0 {
			tmpl.Body = http.NoBody
			tmpl.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		} else {
			tmpl.Body = io.NopCloser(bytes.NewReader(body))
			tmpl.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
	}
	req := tmpl.WithContext(ctx) // the only copy: tmpl stays on the stack
	if len(it.Header) == 0 && it.Body == nil && parsed.User == nil {
		req.Header = p.header // nothing to add: shared, never changed
		return req, nil
	}
	req.Header = make(http.Header, len(p.header)+len(it.Header)+1)
	p.addHeaders(req, it)
	return req, nil
}

// requestParsing is request for an item whose URL is not parsed yet (not
// made by a Reader).
func (p *plan) requestParsing(ctx context.Context, it input.Item) (*http.Request, error) {
	var body io.Reader
	if it.Body != nil {
		body = bytes.NewReader(it.Body)
	}
	req, err := http.NewRequestWithContext(ctx, it.Method, it.URL, body)
	if err != nil {
		return nil, err
	}
	p.addHeaders(req, it)
	return req, nil
}

// addHeaders sets req's header, which is its own: the run's, the item's,
// a JSON Content-Type for a body, and a login the URL gives.
func (p *plan) addHeaders(req *http.Request, it input.Item) {
	for k, vs := range p.header {
		req.Header[k] = vs
	}
	for k, vs := range it.Header {
		req.Header[k] = vs
	}
	it.SetContentType(req.Header)
	// A login in the URL, as http.Client sends it: requests go straight to
	// the Transport, which does not.
	if u := req.URL.User; u != nil && req.Header.Get("Authorization") == "" {
		password, _ := u.Password()
		req.SetBasicAuth(u.Username(), password)
	}
}

// withoutPassword is u as text with its password, if any, as "***", as
// http.Client's errors give it.
func withoutPassword(u *url.URL) string {
	if _, has := u.User.Password(); has {
		return strings.Replace(u.String(), u.User.String()+"@", u.User.Username()+":***@", 1)
	}
	return u.String()
}

// withCost attaches a call's estimated cost to its context, where the
// Transport finds it (sluice.WithCost). Calls without one are estimated by
// the Transport from their body and path when a token limit needs it.
func withCost(ctx context.Context, c sluice.Cost) context.Context {
	return sluice.WithCost(ctx, c)
}

// lockedWriter serialises writes from the goroutines that report, so that
// a bad-line report never lands in the middle of a progress line.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
