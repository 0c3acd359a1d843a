package batch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/input"
)

// errInterrupted halts the gates when the run is asked to stop.
var errInterrupted = errors.New("batch: interrupted")

// The runner writes queued lines when flushEvery of them, or flushBytes,
// are waiting (large responses make large lines), and at the latest
// flushInterval after its last write.
const (
	flushEvery    = 256
	flushBytes    = 1 << 20
	flushInterval = 50 * time.Millisecond
	// flushBacklog is how many times flushEvery lines (or flushBytes) may
	// wait for a database's flusher before the run loop writes them itself.
	flushBacklog = 16
)

// maxResponse is the largest response body kept for a results line.
const maxResponse = 64 << 20

// response is what one item's call came back with.
type response struct {
	status    int
	requestID string
	body      []byte
	spool     *spooledBody // the body instead, when it was too large to hold (spool.go)
	attempts  int
	class     sluice.Class
	usage     *sluice.Usage
	bodyCut   bool // body is the first maxErrorBody bytes of a longer error body
}

// closeSpool lets go of a spooled body that will not be written.
func (r *response) closeSpool() {
	if r.spool != nil {
		r.spool.Close()
		r.spool = nil
	}
}

// run sends every item and writes what came back.
func (p *plan) run(ctx context.Context) (Summary, error) {
	cfg := p.cfg
	sum := Summary{Results: cfg.resultsName(), Errors: cfg.errorsFile()}
	if t, ok := p.dest.(tableDest); ok {
		sum.Results, sum.Errors = t.Names()
	}
	begin := time.Now()

	// Stopping ends admission at once; calls in flight get drain to finish.
	stopCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	callCtx, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	drain := cfg.DrainTimeout
	if drain <= 0 {
		drain = DefaultDrainTimeout
	}
	defer context.AfterFunc(stopCtx, func() {
		p.tr.Halt(errInterrupted)
		time.AfterFunc(drain, cancelCalls)
		if cfg.Abandon != nil {
			go func() { // ends with the run's calls at the latest (the deferred cancelCalls)
				select {
				case <-cfg.Abandon:
					cancelCalls()
				case <-callCtx.Done():
				}
			}()
		}
	})()

	// Before anything is sent: the earlier results of changed items leave
	// the results file, so that no kill leaves an id there twice.
	superseded, supersededTo, err := p.supersedeChanged()
	if err != nil {
		return p.stoppedWriting(sum, begin, "results", err)
	}
	sum.Superseded, sum.SupersededTo = superseded, supersededTo
	total := p.total()
	if total > 0 {
		p.seen.Reserve(max(int(min(total, 1<<31)), p.seen.Len()))
	}
	prog := newProgress(cfg, p, &p.counts, total, stopCtx.Done())
	defer prog.stop()
	// One worker a slot, and a spare for each item between attempts
	// (the Pool's); the Transport's gate bounds what is sent and its
	// policy retries. The ordered window is eight items a slot.
	workers := cfg.concurrency()
	pool := &sluice.Pool[input.Item, response]{Workers: workers, Ordered: cfg.Ordered, Window: 8 * workers, Retry: sluice.RetryPolicy{MaxAttempts: 1}}
	// Lines are queued and written together, every flushEvery lines (or
	// flushBytes) or flushInterval: one write(2) for many results.
	// An item counts as done only once its line is written.
	flush := func() error {
		results, errs, err := p.flushJournal()
		p.counts.succeeded.Add(int64(results))
		p.counts.failed.Add(int64(errs))
		return err
	}
	stopFlushing, kick := p.flushPeriodically(flushInterval, flush)
	defer stopFlushing()
	// A database's transaction takes longer than a file's write(2): the
	// flusher writes it while the loop goes on taking results (the table
	// queues them meanwhile), and the loop writes itself only when the
	// flusher falls behind, which bounds the queue.
	_, background := p.dest.(tableDest)
	why := reasons{}
	var quota429s int64
	// A destination's error (a full disk, a database gone) ends the run
	// like a quota exhausted: exit 3, what was written kept. The loop
	// stops at once (failed), and once the pool has ended, and no longer
	// reads the input, stoppedWriting counts what could still be written
	// and the rest of the input, so that the summary matches the files.
	var writeErr error
	writing := ""
	failed := func(what string, err error) {
		stop(err)
		writeErr, writing = err, what
	}
run:
	for r := range pool.Run(callCtx, p.items(stopCtx), p.send) {
		res := r.Value
		sum.Attempts += int64(res.attempts)
		sum.Retries += int64(max(res.attempts-1, 0))
		var resp input.Response
		var spooled spooledLine
		if r.Err == nil {
			resp = input.Response{Status: res.status, RequestID: res.requestID, Body: res.body, Attempts: res.attempts, Elapsed: r.Elapsed, Fingerprint: p.fingerprint(r.Item)}
			if res.spool != nil {
				var err error
				if spooled, err = p.checkSpooled(r.Item, resp, res.spool); err != nil {
					res.closeSpool() // its line would be over the journal's: the item fails, as in send
					res.class, r.Err = sluice.ClassFatal, sluice.Permanent(err)
				}
			}
		}
		switch {
		case r.Err == nil:
			var err error
			if res.spool != nil {
				err = p.writeSpooled(r.Item, resp, spooled)
			} else {
				err = p.dest.QueueResult(r.Item, resp, res.usage)
			}
			if err != nil {
				failed("results", err)
				break run
			}
			p.doom.succeeded()
			if res.usage != nil {
				sum.InputTokens += int64(res.usage.InputTokens)
				sum.OutputTokens += int64(res.usage.OutputTokens)
				p.counts.tokens.Add(int64(res.usage.InputTokens + res.usage.OutputTokens))
			}
		case sluice.ClassOf(r.Err) == sluice.ClassSharedUnavailable: // the library decides what the error means
			// The shared limits refused (--redis-mode closed, Redis not
			// answering): nothing more can be sent; not finished, not
			// failed; the run stops (sharedstop.go).
			if sum.Stopped == nil {
				sum.Stopped = sharedStop(r.Err)
				stop(sum.Stopped)
			}
		case errors.Is(r.Err, sluice.ErrRetryAfterTooLong):
			// The API said when it would answer, later than
			// --max-retry-wait: not finished, not failed; the run stops,
			// rather than ask early, over and over, item after item.
			if sum.Stopped == nil {
				var ra *sluice.RetryAfterError
				errors.As(r.Err, &ra)
				sum.Stopped = fmt.Errorf("the API asks to wait %v, more than --max-retry-wait %v; the items not done are left for the next run", ra.Wait, ra.MaxPause)
				stop(sum.Stopped)
			}
		case res.attempts == 0 && (errors.Is(r.Err, errInterrupted) || errors.Is(r.Err, sluice.ErrQuotaExhausted) || errors.Is(r.Err, context.Canceled)),
			stopCtx.Err() != nil && (res.class == sluice.ClassCanceled || errors.Is(r.Err, errInterrupted)),
			callCtx.Err() != nil && errors.Is(r.Err, context.Canceled),
			res.class != sluice.ClassQuotaExhausted && errors.Is(r.Err, sluice.ErrQuotaExhausted):
			// Never sent, cut off by the stop (or by the drain's end or a
			// second Ctrl-C, mid-answer too), or waiting to retry when it
			// came (the halt ends the wait): not finished, not failed; the
			// next run does it. Counted in finish.
		default:
			if res.status == http.StatusTooManyRequests && res.class == sluice.ClassQuotaExhausted {
				quota429s++ // a 429, though not one the gates count as throttling
			}
			f := input.Failure{Class: res.class.String(), Status: res.status, Attempts: res.attempts, Message: message(r.Err, res)}
			if res.status != 0 && (res.status < 200 || res.status > 299) {
				f.Body, f.RequestID = res.body, res.requestID // the API's answer, kept whole up to maxErrorBody
				if res.bodyCut {
					f.BodyTruncated = true
					f.Message += fmt.Sprintf(" (the first %d KiB of the error body are kept)", maxErrorBody>>10)
				}
			}
			why.add(f.Class, f.Status, f.Message)
			if err := p.dest.QueueError(r.Item, f); err != nil {
				failed("errors", err)
				break run
			}
			if why := p.doom.failed(r.Item, f, res.class, r.Err); why != nil && sum.Stopped == nil {
				sum.Stopped = why // the quota exhausted, or every call failing alike
				stop(why)
			}
		}
		res.closeSpool() // written, or not to be
		if lines, size := p.dest.Queued(); lines >= flushEvery || size >= flushBytes {
			if background && lines < flushBacklog*flushEvery && size < flushBacklog*flushBytes {
				kick()
			} else if err := flush(); err != nil {
				failed("results", err)
				break run
			}
		}
	}
	stopFlushing()
	sum.Reasons = why.top(topReasons)
	if err := flush(); writeErr == nil && err != nil {
		writeErr, writing = err, "results"
	}
	if writeErr != nil {
		// The flush above was refused after a failed write; lines queued
		// before a refused one still went.
		prog.stop()
		return p.stoppedWriting(sum, begin, writing, writeErr)
	}
	prog.stop()
	if stopCtx.Err() != nil {
		p.countRest()
	}
	sum = p.finish(sum, begin)
	sum.Throttled += quota429s
	if errp := p.readErr.Load(); errp != nil {
		return sum, fmt.Errorf("batch: reading %s: %w", p.inputName(), *errp)
	}
	if n, aside, err := p.dest.Finish(); err != nil {
		return sum, err
	} else if n > 0 {
		sum.Superseded, sum.SupersededTo = sum.Superseded+n, aside
	}
	if sum.Stopped == nil && ctx.Err() != nil {
		sum.Stopped = errors.New("interrupted")
	}
	if sum.Stopped != nil {
		n := p.unread() // issue 10, item 2: the rest is for the next run
		sum.Items += n
		sum.NotStarted += n
	}
	return sum, nil
}

// flushPeriodically calls flush every interval, and at once when kicked,
// on a goroutine, until the returned stop is called; stop waits for it and
// may be called twice. kick never blocks.
func (p *plan) flushPeriodically(interval time.Duration, flush func() error) (stop, kick func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	kicks := make(chan struct{}, 1)
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			case <-kicks:
			}
			flush() // an error stays in the destination: the next append reports it
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() { close(quit) })
		<-done
	}
	kick = func() {
		select {
		case kicks <- struct{}{}:
		default:
		}
	}
	return stop, kick
}

// finish fills in the summary's totals.
func (p *plan) finish(sum Summary, begin time.Time) Summary {
	sum.Items = int(p.counts.read.Load())
	sum.Resumed = int(p.counts.resumed.Load())
	sum.BadLines = int(p.counts.bad.Load())
	sum.Repeated = int(p.counts.repeated.Load())
	sum.Succeeded = int(p.counts.succeeded.Load())
	sum.Failed = int(p.counts.failed.Load())
	st := p.stats()
	sum.Throttled, sum.Pauses = st.Throttled, st.Pauses
	// Whatever was read and is neither saved as done nor as failed is not
	// finished, however it was left: counted, not tracked case by case.
	if !p.cfg.DryRun {
		sum.NotStarted = max(sum.Items-sum.Succeeded-sum.Failed, 0)
	}
	if p.tr != nil && p.tr.Retry.Budget != nil {
		sum.BudgetWaits = p.tr.Retry.Budget.Stats().Waited
	}
	sum.Elapsed = time.Since(begin)
	sum.Changed = int(p.changed.Load())
	sum.ChangedKept = p.cfg.SkipChanged
	if p.dest != nil {
		sum.Unrecorded = p.dest.Unrecorded()
		sum.MovedAside, sum.MovedAsideErrors = p.dest.MovedAside()
	}
	return sum
}

// stats are the transport's gates' stats, for progress.
func (p *plan) stats() sluice.GateStats {
	if p.tr == nil {
		return sluice.GateStats{}
	}
	return p.tr.Stats()
}

// total counts the lines of a regular input file, for the progress bar's
// end; -1 when that cannot be known cheaply (standard input).
func (p *plan) total() int64 {
	if p.cfg.Input == "-" {
		return -1
	}
	f, err := os.Open(p.cfg.Input)
	if err != nil {
		return -1
	}
	defer f.Close()
	var n int64
	buf := make([]byte, 256<<10)
	r := bufio.NewReader(f)
	for {
		k, err := r.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err != nil {
			return n
		}
	}
}

// send makes one item's call, retries included (the Transport does them).
func (p *plan) send(ctx context.Context, it input.Item) (response, error) {
	info := new(sluice.RoundTripInfo)
	ctx = sluice.WithRoundTripInfo(ctx, info)
	if p.preset != nil && it.Raw != nil {
		ctx = withCost(ctx, itemCost(it))
	}
	req, err := p.request(ctx, it)
	if err != nil {
		return response{class: sluice.ClassFatal}, sluice.Permanent(err)
	}
	// Straight to the Transport: an http.Client would cost about as much
	// as the rest of this function; redirects are followed here
	// (redirect.go).
	resp, err := p.tr.RoundTrip(req)
	before := 0 // attempts of the redirects followed
	for hops := 0; err == nil; hops++ {
		next, rerr := redirected(req, resp, hops)
		if next == nil && rerr == nil {
			break
		}
		discard(resp.Body)
		if rerr != nil {
			return response{status: resp.StatusCode, attempts: before + info.Attempts, class: sluice.ClassFatal}, sluice.Permanent(rerr)
		}
		before += info.Attempts
		*info = sluice.RoundTripInfo{}
		req = next
		resp, err = p.tr.RoundTrip(req)
	}
	info.Attempts += before
	if err != nil {
		err = &url.Error{Op: opName(req.Method), URL: withoutPassword(req.URL), Err: err} // as http.Client says it
		class := sluice.ClassOf(err)
		if info.Attempts > before {
			class = info.Class
		}
		return response{attempts: info.Attempts, class: class}, sluice.Permanent(err)
	}
	if resp.ProtoMajor >= 2 {
		resp.Body = watchStream(resp.Body, idleLimit(p.timeout))
	}
	defer resp.Body.Close()
	var body []byte
	var sb *spooledBody
	cut := false
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		body, sb, err = readOrSpool(resp.Body, resp.ContentLength, p.spoolDir)
	} else {
		body, cut, err = readErrorBody(resp.Body, resp.ContentLength)
	}
	if err != nil {
		err = stalledError(p.timeout, err)
	}
	r := response{status: resp.StatusCode, requestID: requestID(resp), body: body, spool: sb, bodyCut: cut, attempts: info.Attempts, class: info.Class}
	switch {
	case err != nil:
		r.class = sluice.ClassTransient
		return r, sluice.Permanent(fmt.Errorf("reading the response: %w", err))
	case len(body) > maxResponse || sb != nil && sb.size > maxResponse:
		r.class = sluice.ClassFatal
		r.closeSpool()
		return r, sluice.Permanent(fmt.Errorf("response larger than %d MiB", maxResponse>>20))
	case sb != nil && sb.encoded > maxResponse:
		r.class = sluice.ClassFatal
		r.closeSpool()
		return r, sluice.Permanent(fmt.Errorf("response larger than %d MiB once written as JSON in its results line", maxResponse>>20))
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		if stopped := info.Err; r.class != sluice.ClassQuotaExhausted && (errors.Is(stopped, errInterrupted) || errors.Is(stopped, sluice.ErrQuotaExhausted) || errors.Is(stopped, sluice.ErrRetryAfterTooLong) || sluice.ClassOf(stopped) == sluice.ClassSharedUnavailable) {
			// The run stopped while this item waited to retry: it is not
			// finished, not failed, whatever its last attempt said.
			return r, sluice.Permanent(stopped)
		}
		if r.class == sluice.ClassOK {
			r.class = sluice.ClassFatal // a redirect with no Location (or a 300): not a success
		}
		se := &sluice.StatusError{Status: resp.StatusCode, Class: r.class}
		var last *sluice.StatusError
		if errors.As(info.Err, &last) {
			se.Message = last.Message
		}
		return r, sluice.Permanent(se)
	}
	if p.preset != nil {
		if sb != nil {
			r.usage = sb.usage(resp)
		} else {
			r.usage = sluice.ScanUsage(resp, body, body)
		}
	}
	return r, nil
}

// readBody reads a response body, up to limit and one byte more to tell
// a body over it, into a buffer sized by its Content-Length when it has
// one: io.ReadAll starts at 512 bytes, and against small answers that
// (with io.LimitReader's wrapper) was a third of what a run allocated.
func readBody(r io.Reader, size int64, limit int) ([]byte, error) {
	n := 512
	if size >= 0 && size <= int64(limit) {
		n = int(size) + 1 // room to read the EOF without growing
	}
	b := make([]byte, 0, n)
	for len(b) <= limit {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow as append does
		}
		m, err := r.Read(b[len(b):min(cap(b), limit+1)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// maxErrorBody is how much of an error response's body is kept for its
// errors line: enough for any API's error object, and a bound on what a
// hostile or broken API's 1 GiB error page costs each worker.
const maxErrorBody = 64 << 10

// maxErrorDrain is how much more of a longer error body is read, and
// thrown away, so that a body only a little over maxErrorBody leaves its
// connection fit for reuse; past it the body is closed, and with it the
// connection, which costs less than reading on.
const maxErrorDrain = 256 << 10

// readErrorBody reads the start of an error response's body: all of it
// up to maxErrorBody, or its first maxErrorBody bytes, cut back to a
// whole UTF-8 character, with cut set.
func readErrorBody(r io.Reader, size int64) (body []byte, cut bool, err error) {
	body, err = readBody(r, size, maxErrorBody)
	if err != nil || len(body) <= maxErrorBody {
		return body, false, err
	}
	io.CopyN(io.Discard, r, maxErrorDrain) // its error is the closed connection's
	body = body[:maxErrorBody]
	for i := 0; i < utf8.UTFMax && i < len(body); i++ {
		if c := body[len(body)-1-i]; utf8.RuneStart(c) {
			if !utf8.FullRune(body[len(body)-1-i:]) {
				body = body[:len(body)-1-i]
			}
			break
		}
	}
	return body, true, nil
}

// opName is how http.Client names a method in its errors: "Get", "Post".
func opName(method string) string {
	return method[:1] + strings.ToLower(method[1:])
}

func requestID(resp *http.Response) string {
	for _, k := range []string{"X-Request-Id", "Request-Id"} { // canonical: no Get
		if v := resp.Header[k]; len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// message is what the errors file says went wrong.
func message(err error, r response) string {
	var se *sluice.StatusError
	if errors.As(err, &se) && se.Message != "" {
		return se.Message
	}
	if err == nil {
		return r.class.String()
	}
	return err.Error()
}
