package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/input"
)

// FetchManyInput is fetch_many's arguments.
type FetchManyInput struct {
	URLs       []string       `json:"urls,omitempty" jsonschema:"URLs to GET (http or https); give urls or requests, not both"`
	Requests   []RequestInput `json:"requests,omitempty" jsonschema:"HTTP requests to send; give urls or requests, not both"`
	PageSize   int            `json:"page_size,omitempty" jsonschema:"items in the first page of results: 1 to 100; 0 or absent means 10"`
	MaxLength  int            `json:"max_length,omitempty" jsonschema:"bytes of each body's text in the page: 1 to 100000; 0 or absent means 1000"`
	TimeBudget float64        `json:"time_budget_seconds,omitempty" jsonschema:"stop after this many seconds (at most the server's budget, the default); items not done fail as out_of_time"`
	Background bool           `json:"background,omitempty" jsonschema:"return at once with the handle while the fetches go on; read them with get_results, stop them with cancel"`
}

// RequestInput is one request of fetch_many, checked as a line of sluice
// run's http input is.
type RequestInput struct {
	ID      any            `json:"id,omitempty" jsonschema:"a string or number naming the request in the results (default: its position from 1)"`
	Method  string         `json:"method,omitempty" jsonschema:"GET (default), or POST when there is a body; also HEAD PUT PATCH DELETE OPTIONS"`
	URL     string         `json:"url" jsonschema:"absolute http or https URL"`
	Headers map[string]any `json:"headers,omitempty" jsonschema:"header names to a string or an array of strings"`
	Body    any            `json:"body,omitempty" jsonschema:"a string is sent as is; any other JSON value is sent as JSON; either goes labelled Content-Type: application/json unless headers name another type"`
}

// GetResultsInput is get_results' arguments.
type GetResultsInput struct {
	Handle     string `json:"handle" jsonschema:"the handle fetch_many returned"`
	Offset     int    `json:"offset,omitempty" jsonschema:"first item of the page, among those the filter keeps (default 0)"`
	Limit      int    `json:"limit,omitempty" jsonschema:"items in the page: 1 to 100; 0 or absent means 10"`
	Filter     string `json:"filter,omitempty" jsonschema:"ok: only succeeded items; failed: only failed ones; absent: all, pending included"`
	MaxLength  int    `json:"max_length,omitempty" jsonschema:"bytes of each body's text: 1 to 100000, 0 or absent means 1000; offset=N limit=1 max_length=100000 reads one body whole"`
	StartIndex int    `json:"start_index,omitempty" jsonschema:"byte of each body to start the text at, to read a long body in parts (from more_from)"`
}

// CancelInput is cancel's arguments.
type CancelInput struct {
	Handle string `json:"handle" jsonschema:"the handle of the call to stop"`
}

// Page sizes and text lengths the tools allow.
const (
	defaultPage      = 10
	maxPage          = 100
	defaultMaxLength = 1000
	maxMaxLength     = 100_000
)

func (s *Server) addTools() {
	c := s.cfg
	limits := fmt.Sprintf("at most %d requests in flight in all", c.Global.Concurrency)
	if !c.Global.Rate.IsZero() {
		limits += ", " + c.Global.Rate.String() + " in all"
	}
	host := c.Host.Concurrency
	if host <= 0 {
		host = sluice.DefaultConcurrency
	}
	limits += fmt.Sprintf(", at most %d per host", host)
	if !c.Host.Rate.IsZero() {
		limits += ", " + c.Host.Rate.String() + " per host"
	}
	private := "Requests to loopback, private, link-local and cloud-metadata addresses are refused (such items fail with error_class refused)."
	if c.AllowPrivate {
		private = "Private and loopback addresses are allowed on this server."
	}
	addTool(s.mcp, &sdk.Tool{
		Name:  "fetch_many",
		Title: "Fetch many URLs or HTTP requests",
		Description: fmt.Sprintf(`Fetch many URLs, or send many HTTP requests, in one call: use it instead of calling a single fetch tool in a loop, or whenever more than a few URLs are to be fetched. The server sends them as fast as its limits allow and no faster (%s), retries what is worth retrying, and pauses a host that answers 429 without holding up the others.
Limits: at most %d items per call; each body is read up to %s; a call runs at most %v (items not done by then fail as out_of_time). %s
Returns a summary (succeeded, failed, counts by status and by error class, elapsed, rate) and the first page of results in input order: id, url, status, content type, size, the body as text cut to max_length bytes, or the error. A 404 or 500 is a failed item, not an error of the call. Read more with get_results (paging, or one body whole), stop with cancel; background=true returns the handle at once. Long calls return a handle while they continue: a call still running after %v replies with state running and its results so far; poll get_results with the handle for the rest.`,
			limits, c.MaxItems, byteCount(c.MaxBody), c.CallBudget, private, c.ReplyWithin),
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: false, OpenWorldHint: ptr(true)},
	}, nil, decodeFetchMany, s.fetchMany)
	addTool(s.mcp, &sdk.Tool{
		Name:  "get_results",
		Title: "Read the results of fetch_many",
		Description: fmt.Sprintf(`Read a page of the results of a fetch_many call by its handle, in input order: offset and limit (at most %d) page through them, filter=ok or filter=failed keeps only those. Bodies are served from what the call kept, never fetched again: offset=N limit=1 max_length=%d shows item N's body, and start_index reads a long one in parts (each item says more_from when there is more). Works while the call is still running (unfinished items are pending; a filtered page stops at the first unfinished item, so that next_offset never skips or repeats one). Results are kept for %v after a call ends; the oldest are forgotten first when they pass %s.`,
			maxPage, maxMaxLength, c.StoreTTL, byteCount(c.StoreBytes)),
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true},
	}, filterEnum, decodeGetResults, s.getResults)
	addTool(s.mcp, &sdk.Tool{
		Name:        "cancel",
		Title:       "Stop a fetch_many call",
		Description: `Stop a running fetch_many call by its handle: requests in flight are abandoned, those not started are not sent. What it fetched so far stays readable with get_results. Returns the call's summary.`,
		Annotations: &sdk.ToolAnnotations{DestructiveHint: ptr(false), IdempotentHint: true},
	}, nil, decodeCancel, s.cancel)
}

func ptr[T any](v T) *T { return &v }

// toolResult returns rep as a tool result: its text for the model, and the
// Report itself as structured content.
func toolResult(rep Report) (*sdk.CallToolResult, Report, error) {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: rep.text()}}}, rep, nil
}

func (s *Server) fetchMany(ctx context.Context, req *sdk.CallToolRequest, in FetchManyInput) (*sdk.CallToolResult, Report, error) {
	items, err := s.items(in)
	if err != nil {
		return nil, Report{}, err
	}
	page, maxLen, err := pageArgs(in.PageSize, in.MaxLength, 0)
	if err != nil {
		return nil, Report{}, err
	}
	budget, err := timeBudget(s.cfg.CallBudget, in.TimeBudget)
	if err != nil {
		return nil, Report{}, err
	}

	if n := s.running.Add(1); n > int64(s.cfg.MaxRunning) {
		s.running.Add(-1)
		return nil, Report{}, fmt.Errorf("%d fetch_many calls are running already, this server's cap: nothing was fetched; wait for one to end (get_results shows its state) or stop one with cancel", s.cfg.MaxRunning)
	}
	callCtx, cancel := context.WithCancelCause(s.base)
	c := s.fetcher.store.add(items, cancel)
	runCtx, stopTimer := context.WithTimeoutCause(callCtx, budget, errOutOfTime)
	if !in.Background {
		// The client's cancellation (notifications/cancelled) ends the
		// request's context: it stops the call too.
		unwatch := context.AfterFunc(ctx, func() { cancel(errCanceledByClient) })
		defer unwatch()
	}
	s.wg.Go(func() {
		defer s.running.Add(-1)
		defer cancel(nil)
		defer stopTimer()
		s.fetcher.run(runCtx, c, items)
		sum := c.summary()
		s.cfg.Logger.Info("fetch_many", "handle", c.handle, "state", sum.State, "total", sum.Total,
			"succeeded", sum.Succeeded, "failed", sum.Failed, "elapsed", time.Duration(sum.Elapsed*float64(time.Second)).Round(time.Millisecond))
	})
	if !in.Background {
		s.wait(ctx, req, c)
		if ctx.Err() != nil {
			// The client cancelled the request: it wants no result, and the
			// go-sdk answers every request, so the answer is short.
			return nil, Report{}, fmt.Errorf("canceled by the client; what was fetched stays readable: get_results handle=%s", c.handle)
		}
	}
	rep := report(c, 0, page, "", 0, maxLen)
	if rep.NextOffset > 0 {
		rep.Note = joinNotes(rep.Note, fmt.Sprintf("more results: get_results handle=%s offset=%d", c.handle, rep.NextOffset))
	}
	if rep.Summary.State == stateRunning && !in.Background {
		rep.Note = joinNotes(fmt.Sprintf("still running after %v, this server's reply bound: the fetches go on; poll get_results handle=%s for the rest (or stop them with cancel)", s.cfg.ReplyWithin, c.handle), rep.Note)
	}
	res, rep, err := toolResult(rep)
	if sum := rep.Summary; sum.Total > 0 && sum.ByError[errSharedUnavailable] == sum.Total {
		// Nothing could be sent: the server's shared limits are down.
		// A failed item is not a failed call, but a call of which not
		// one item could be tried is the server's failure, and an agent
		// that reads only isError must not take it for a success.
		res.IsError = true
		res.Content = append([]sdk.Content{&sdk.TextContent{Text: "nothing was sent: this server's shared limits cannot be reached; no item was tried, and calling again later with the same arguments is safe"}}, res.Content...)
	}
	return res, rep, err
}

// wait waits for c to end, for the client to cancel the request (ctx),
// or for the reply bound, whichever comes first. When the client asked
// for progress (with a token) it notifies it (items done of total) at
// most every progressEvery while it waits, always from this goroutine,
// so that none is sent after the result. None is sent as it stops
// waiting either: the result says as much, and a client may handle a
// notification later than the response that follows it on the wire (the
// TypeScript SDK handles notifications a microtask later than
// responses, and reports a progress it reads after the result as one
// of an unknown token).
func (s *Server) wait(ctx context.Context, req *sdk.CallToolRequest, c *call) {
	bound := time.NewTimer(s.cfg.ReplyWithin)
	defer bound.Stop()
	var tick <-chan time.Time
	notify := func() {}
	if token := req.Params.GetProgressToken(); token != nil && req.Session != nil {
		ticker := time.NewTicker(progressEvery)
		defer ticker.Stop()
		tick = ticker.C
		last := -1
		notify = func() {
			sum := c.summary()
			if done := sum.Succeeded + sum.Failed; done != last && done < sum.Total && ctx.Err() == nil {
				last = done
				req.Session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{
					ProgressToken: token, Progress: float64(done), Total: float64(sum.Total),
					Message: fmt.Sprintf("%s: %d of %d done, %d failed", c.handle, done, sum.Total, sum.Failed),
				})
			}
		}
	}
	for {
		select {
		case <-c.done:
			return
		case <-ctx.Done():
			// The call is being stopped (see fetchMany); its items end
			// promptly, and the client hears no more of it.
			select {
			case <-c.done:
			case <-bound.C:
			}
			return
		case <-bound.C:
			return
		case <-tick:
			notify()
		}
	}
}

// progressEvery is how often a call reports progress, at most.
const progressEvery = 250 * time.Millisecond

// items validates the input's URLs or requests, as sluice run's http
// lines are validated. An item that is not valid becomes a failed item
// (error_class invalid), not an error of the call, so that one bad URL
// among 500 costs only itself.
func (s *Server) items(in FetchManyInput) ([]pending, error) {
	n := len(in.URLs) + len(in.Requests)
	switch {
	case len(in.URLs) > 0 && len(in.Requests) > 0:
		return nil, errors.New("give urls or requests, not both")
	case n == 0:
		return nil, errors.New("give urls (a list of URLs) or requests (a list of {id, method, url, headers, body}): there is nothing to fetch")
	case n > s.cfg.MaxItems:
		return nil, fmt.Errorf("%d items is over this server's cap of %d items per fetch_many call: nothing was fetched; send them in calls of at most %d", n, s.cfg.MaxItems, s.cfg.MaxItems)
	}
	items := make([]pending, n)
	for i := range n {
		var obj []byte
		if len(in.URLs) > 0 {
			obj, _ = json.Marshal(struct {
				URL string `json:"url"`
			}{in.URLs[i]})
		} else {
			var err error
			if obj, err = json.Marshal(in.Requests[i]); err != nil {
				return nil, itemError("requests", i, err.Error())
			}
		}
		it, err := input.ParseRequest(obj, i+1)
		if err != nil {
			var bl input.BadLine
			errors.As(err, &bl)
			items[i] = pending{id: idOf(in, i), method: methodOf(in, i), url: urlOf(in, i), invalid: bl.Reason}
			continue
		}
		header := it.Header
		if it.Body != nil && header.Get("Content-Type") == "" {
			header = header.Clone()
			if header == nil {
				header = http.Header{}
			}
			it.SetContentType(header)
		}
		items[i] = pending{id: it.ID, method: it.Method, url: it.URL, parsed: it.ParsedURL(), header: header, body: it.Body}
	}
	return items, nil
}

// idOf and urlOf name an item that is not valid as well as it can be.
func idOf(in FetchManyInput, i int) string {
	if len(in.Requests) > 0 {
		switch id := in.Requests[i].ID.(type) {
		case string:
			return id
		case float64:
			return fmt.Sprint(id)
		}
	}
	return fmt.Sprint(i + 1)
}

func methodOf(in FetchManyInput, i int) string {
	if len(in.Requests) > 0 && in.Requests[i].Method != "" {
		return strings.ToUpper(in.Requests[i].Method)
	}
	return "GET"
}

func urlOf(in FetchManyInput, i int) string {
	if len(in.URLs) > 0 {
		return in.URLs[i]
	}
	return in.Requests[i].URL
}

// pageArgs checks and defaults a page's size, text length and start.
func pageArgs(limit, maxLen, start int) (int, int, error) {
	switch {
	case limit < 0 || limit > maxPage:
		return 0, 0, fmt.Errorf("page size %d: want 1 to %d (0 means %d)", limit, maxPage, defaultPage)
	case maxLen < 0 || maxLen > maxMaxLength:
		return 0, 0, fmt.Errorf("max_length %d: want 1 to %d (0 means %d)", maxLen, maxMaxLength, defaultMaxLength)
	case start < 0:
		return 0, 0, fmt.Errorf("start_index %d: want 0 or more", start)
	}
	if limit == 0 {
		limit = defaultPage
	}
	if maxLen == 0 {
		maxLen = defaultMaxLength
	}
	return limit, maxLen, nil
}

func (s *Server) getResults(_ context.Context, _ *sdk.CallToolRequest, in GetResultsInput) (*sdk.CallToolResult, Report, error) {
	c, err := s.fetcher.store.get(in.Handle)
	if err != nil {
		return nil, Report{}, err
	}
	switch in.Filter {
	case "", "ok", "failed":
	default:
		return nil, Report{}, fmt.Errorf("filter %q: want ok or failed, or none", in.Filter)
	}
	if in.Offset < 0 {
		return nil, Report{}, fmt.Errorf("offset %d: want 0 or more", in.Offset)
	}
	limit, maxLen, err := pageArgs(in.Limit, in.MaxLength, in.StartIndex)
	if err != nil {
		return nil, Report{}, err
	}
	rep := report(c, in.Offset, limit, in.Filter, in.StartIndex, maxLen)
	if n := c.count(in.Filter); len(rep.Items) == 0 && in.Offset > 0 && in.Offset >= n {
		what := "results"
		if in.Filter != "" {
			what = in.Filter + " results"
		}
		if rep.Summary.State == stateRunning && in.Filter != "" {
			what += " so far"
		}
		rep.Note = joinNotes(fmt.Sprintf("offset %d is past the end: the call has %d %s", in.Offset, n, what), rep.Note)
	}
	return toolResult(rep)
}

func (s *Server) cancel(ctx context.Context, _ *sdk.CallToolRequest, in CancelInput) (*sdk.CallToolResult, Report, error) {
	c, err := s.fetcher.store.get(in.Handle)
	if err != nil {
		return nil, Report{}, err
	}
	c.cancel(errCanceledByTool)
	select { // items stop promptly once their context ends
	case <-c.done:
	case <-ctx.Done():
	}
	rep := report(c, 0, 0, "", 0, 0)
	rep.Items = []ItemReport{}
	rep.Note = fmt.Sprintf("the results so far stay readable: get_results handle=%s", c.handle)
	return toolResult(rep)
}

// joinNotes joins two notes with "; ", either of which may be empty.
func joinNotes(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// timeBudget is the time a call may take: the agent's asked seconds, at
// most the server's budget. Seconds are compared before they become a
// Duration: 1e10 seconds overflowed one, and the call ran out of time at
// once where it should have had the whole budget.
func timeBudget(server time.Duration, seconds float64) (time.Duration, error) {
	switch {
	case seconds < 0:
		return 0, fmt.Errorf("time_budget_seconds %v: want a positive number of seconds", seconds)
	case seconds > 0 && seconds*float64(time.Second) < float64(server):
		return time.Duration(seconds * float64(time.Second)), nil
	}
	return server, nil
}
