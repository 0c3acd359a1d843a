package mcp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
)

// pending is one validated item, ready to send.
type pending struct {
	id, method, url string
	parsed          *url.URL
	header          http.Header
	body            []byte
	invalid         string // why the item cannot be sent; "" when it can
}

// Why a call's context ended, when it did.
var (
	errCanceledByTool   = errors.New("mcp: canceled by the cancel tool")
	errCanceledByClient = errors.New("mcp: canceled by the client")
	errOutOfTime        = errors.New("mcp: the time budget ran out")
	errServerClosed     = errors.New("mcp: the server is shutting down")
)

// keepWhenFull is how much of a body is kept when the store has no room
// for all of it: enough for the page's text.
const keepWhenFull = 4 << 10

// fetcher sends the items of calls, sharing one client (and so one set
// of gates) between them all.
type fetcher struct {
	cfg    Config
	client *http.Client
	guard  *guard
	store  *store
	// pausedUntil returns the end of the pause req's host asked for
	// (429 or 503 with Retry-After), the zero Time when none.
	pausedUntil func(req *http.Request) time.Time
}

// run fetches every item of c, each in a goroutine of its own: they wait
// in the gates, where waiting costs nothing, so that the items of a
// paused host hold up no others. It returns when every item has its
// result; once ctx ends, the items not started fail at once.
func (f *fetcher) run(ctx context.Context, c *call, items []pending) {
	var wg sync.WaitGroup
	checks := &hostChecks{done: make(map[string]error)}
	why := func() string { return endState(ctx) }
	for i, it := range items {
		wg.Go(func() {
			c.set(i, f.fetch(ctx, c, it, checks), why)
		})
	}
	wg.Wait()
}

// endState names the state a call ends in once its context has ended;
// "" while it has not.
func endState(ctx context.Context) string {
	switch cause := context.Cause(ctx); {
	case cause == nil:
		return ""
	case errors.Is(cause, errOutOfTime):
		return stateOutOfTime
	default:
		return stateCanceled
	}
}

// fetch sends one item and reads its answer, up to the body cap.
func (f *fetcher) fetch(ctx context.Context, c *call, it pending, checks *hostChecks) (r result) {
	begin := time.Now()
	defer func() { r.elapsed = time.Since(begin) }()
	if it.invalid != "" {
		r.errClass, r.err = "invalid", it.invalid
		return r
	}
	if ctx.Err() != nil {
		r.errClass, r.err = stopped(ctx, "not started")
		return r
	}
	if err := checks.check(ctx, f.guard, it.parsed.Hostname()); err != nil {
		r.errClass, r.err = describe(ctx, err)
		return r
	}
	var body io.Reader
	if it.body != nil {
		body = bytes.NewReader(it.body)
	}
	info := &sluice.RoundTripInfo{}
	req, err := http.NewRequestWithContext(sluice.WithRoundTripInfo(ctx, info), it.method, it.url, body)
	if err != nil {
		r.errClass, r.err = "bad_request", err.Error()
		return r
	}
	if it.header != nil {
		req.Header = it.header.Clone()
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "sluice-mcp/"+f.cfg.Version)
	}
	resp, err := f.client.Do(req)
	r.attempts = info.Attempts
	if err != nil && errors.Is(err, sluice.ErrWouldExceedDeadline) && ctx.Err() == nil {
		r.errClass, r.err = "out_of_time", f.beyondBudget(req, err, r.attempts)
		return r
	}
	if err != nil {
		r.errClass, r.err = describe(ctx, err)
		if r.errClass == errSharedUnavailable {
			r.attempts = 0 // refused before the host, by the global gate under the host's
		}
		return r
	}
	defer resp.Body.Close()
	r.status = resp.StatusCode
	r.contentType = resp.Header.Get("Content-Type")
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBody+1))
	if int64(len(data)) > f.cfg.MaxBody {
		data, r.truncated = data[:f.cfg.MaxBody], true
	}
	r.size = int64(len(data))
	r.ok = resp.StatusCode >= 200 && resp.StatusCode < 300 && readErr == nil
	switch {
	case readErr != nil:
		r.errClass, r.err = describe(ctx, readErr)
		r.err = "reading the body: " + r.err
	case !r.ok:
		r.errClass = "http_" + strconv.Itoa(resp.StatusCode/100) + "xx"
		r.err = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
		var se *sluice.StatusError
		if errors.As(info.Err, &se) && se.Message != "" {
			r.err += ": " + se.Message
		}
	}
	r.body = f.keep(c, data)
	r.partial = len(r.body) < len(data)
	return r
}

// beyondBudget explains an item that its host's gate would admit (or
// admit again) only after its call's time budget has run out, so it was
// failed at once rather than left waiting.
func (f *fetcher) beyondBudget(req *http.Request, err error, attempts int) string {
	what := "not sent"
	if attempts > 0 {
		what = "not retried"
	}
	host := req.URL.Host
	var wait time.Duration
	var we *sluice.WaitError
	if errors.As(err, &we) {
		wait = we.Wait
	}
	if f.pausedUntil != nil {
		if left := time.Until(f.pausedUntil(req)); left > 0 {
			return fmt.Sprintf("%s: host %s asked to wait %v (Retry-After), beyond this call's time budget", what, host, roundWait(max(left, wait)))
		}
	}
	if wait > 0 {
		return fmt.Sprintf("%s: host %s's limits would admit it only in %v, beyond this call's time budget", what, host, roundWait(wait))
	}
	return fmt.Sprintf("%s: host %s's limits would admit it only after this call's time budget has run out", what, host)
}

// roundWait rounds a wait for people: to the second past 10s, to the
// tenth below.
func roundWait(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}

// keep returns what the store has room for of data: all of it, or its
// start.
func (f *fetcher) keep(c *call, data []byte) []byte {
	if len(data) == 0 || f.store.reserve(c, int64(len(data))) {
		return data
	}
	part := data[:min(len(data), keepWhenFull)]
	if f.store.reserve(c, int64(len(part))) {
		return bytes.Clone(part) // not the whole buffer behind it
	}
	return nil
}

// describe turns a request's error into a class and a message for the
// agent, without the Go wrapping (`Get "…": dial tcp …:`) where it adds
// nothing.
func describe(ctx context.Context, err error) (class, msg string) {
	var refused *RefusedError
	var dns *net.DNSError
	switch {
	case errors.As(err, &refused):
		return "refused", refused.Error()
	case ctx.Err() != nil:
		return stopped(ctx, "stopped")
	case errors.As(err, &dns):
		return "dns", "cannot resolve " + dns.Name + ": " + dns.Err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg = err.Error()
	switch {
	case strings.HasPrefix(msg, "refused: "):
		return "refused", msg
	case errors.Is(err, sluice.ErrRetryBudget):
		return "retry_budget", msg
	case sluice.ClassOf(err) == sluice.ClassSharedUnavailable:
		// The limits shared with other processes cannot be asked, and
		// their store refuses then: nothing was sent, nothing is wrong
		// with the item, and no retry here can help (the library does
		// not retry it).
		return errSharedUnavailable, "not sent: " + msg + "; nothing is wrong with this item: call again later"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout", msg
	}
	return "network", msg
}

// errSharedUnavailable is the error class of an item not sent because
// the shared limits cannot be asked (sluice.ClassSharedUnavailable).
const errSharedUnavailable = "shared_unavailable"

// stopped describes an item stopped by the end of its call's context.
func stopped(ctx context.Context, what string) (class, msg string) {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errOutOfTime):
		return "out_of_time", what + ": the call's time budget ran out"
	case cause != nil && cause != context.Canceled:
		return "canceled", what + ": " + strings.TrimPrefix(cause.Error(), "mcp: ")
	}
	return "canceled", what + ": canceled"
}

// hostChecks remembers, for one call, which hosts the guard passed, so
// that 500 URLs of one host cost one lookup. Safe for concurrent use.
type hostChecks struct {
	mu   sync.Mutex
	done map[string]error
}

func (h *hostChecks) check(ctx context.Context, g *guard, host string) error {
	if g.allowPrivate {
		return nil
	}
	h.mu.Lock()
	err, ok := h.done[host]
	h.mu.Unlock()
	if ok {
		return err
	}
	err = g.checkHost(ctx, host)
	if ctx.Err() != nil {
		return err // not the host's fault: not remembered
	}
	h.mu.Lock()
	h.done[host] = err
	h.mu.Unlock()
	return err
}

// itemError is a tool error about one item of the input.
func itemError(field string, i int, reason string) error {
	return fmt.Errorf("%s[%d]: %s", field, i, reason)
}
