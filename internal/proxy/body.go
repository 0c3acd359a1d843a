package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/bytesize"
)

// A request's body is read whole before the request queues, up to its
// route's MaxBody: a body over it is refused at once with 413, before any
// quota is used, and the copy kept for retries is bounded by it. The
// Transport then gets the body from GetBody for each attempt without
// copying it again. (The LLM presets' model key, sluice.KeyByModel,
// reads it through GetBody too, and copies it to do so, 64 MiB of
// allocations for a 20 MiB body: keptReader.Bytes lets a library that
// looks for it read the kept copy in place instead.) Room
// for it is taken from the server's body budget (budget.go) before it is
// read, and given back as soon as its response begins: no attempt follows
// then, so the bytes are dropped.

// DefaultMaxBody is a route's MaxBody when it gives none: 32 MiB, the
// Anthropic Messages API's own limit.
const DefaultMaxBody = 32 << 20

func (r *route) maxBody() int64 {
	if r.MaxBody == 0 {
		return DefaultMaxBody
	}
	return r.MaxBody
}

// keptBody is a request's body held in memory, and its room in the body
// budget. Its methods are nil-safe and safe for concurrent use.
type keptBody struct {
	mu     sync.Mutex
	data   []byte // nil once released
	budget *bodyBudget
	room   int64 // what it took of the budget
}

// bytes returns the body, nil once released.
func (k *keptBody) bytes() []byte {
	if k == nil {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.data
}

// release drops the body and gives its room back; once.
func (k *keptBody) release() {
	if k == nil {
		return
	}
	k.mu.Lock()
	room := k.room
	k.data, k.room = nil, 0
	k.mu.Unlock()
	k.budget.release(room)
}

// reader returns a reader of the body that takes its bytes when first
// read and lets go of them when closed, so that neither a request's Body,
// which the Transport closes unread in favour of GetBody, nor an attempt's,
// which the response keeps (Response.Request), keeps them alive once the
// body is released.
func (k *keptBody) reader() io.ReadCloser { return &keptReader{k: k} }

type keptReader struct {
	k *keptBody // nil once closed
	r *bytes.Reader
}

func (r *keptReader) Read(p []byte) (int, error) {
	if r.r == nil {
		if r.k == nil {
			return 0, errors.New("proxy: read of a closed body")
		}
		r.r = bytes.NewReader(r.k.bytes())
	}
	return r.r.Read(p)
}

// Bytes returns the body, not a copy, for a reader that would otherwise
// copy it to look at it (the model key, a token estimate): a 20 MiB body
// is not copied again. The bytes must not be changed; nil once the reader
// is closed or the body released. It does not move the read position.
func (r *keptReader) Bytes() []byte {
	if r.k == nil {
		return nil
	}
	return r.k.bytes()
}

func (r *keptReader) Close() error {
	r.k, r.r = nil, nil
	return nil
}

// keepBody waits for room in the body budget, reads req's body into
// memory, up to the route's max body, makes req send that copy, and
// returns it (nil for none) and how long it waited for room. It reports
// false when it answered instead, with how the request ended: the body is
// too large, could not be read, or found no room in time. deadline is the
// client's, zero for none.
func (r *route) keepBody(w http.ResponseWriter, req *http.Request, begin, deadline time.Time) (*keptBody, time.Duration, outcome, bool) {
	limit := r.maxBody()
	if req.ContentLength > limit {
		r.tooLarge(w, limit)
		return nil, 0, outcomeTooLarge, false
	}
	if req.Body == nil || req.Body == http.NoBody {
		return nil, 0, 0, true
	}
	// Of a body of unknown length (chunked) room for the largest is
	// taken, and the rest given back once it is read.
	want := limit
	if req.ContentLength >= 0 {
		want = req.ContentLength
	}
	k, waited, refused, ok := r.reserve(w, req, want, begin, deadline)
	if !ok {
		return nil, waited, refused, false
	}
	idle := &idleReader{r: req.Body, rc: http.NewResponseController(w)}
	body, err := readBody(idle, req.ContentLength, limit)
	idle.done()
	req.Body.Close()
	switch {
	case int64(len(body)) > limit:
		k.release()
		r.tooLarge(w, limit)
		return nil, waited, outcomeTooLarge, false
	case idle.timedOut(err):
		k.release()
		w.Header().Set("Connection", "close")
		r.answer(w, http.StatusRequestTimeout, "invalid_request_error", "", fmt.Sprintf("no byte of the request body came for %v: the room it took in the body budget is given back", bodyIdleTimeout))
		return nil, waited, outcomeError, false
	case err != nil:
		k.release()
		// The client sent a broken body, or went away while sending it.
		r.answer(w, http.StatusBadRequest, "invalid_request_error", "", "could not read the request body: "+err.Error())
		if req.Context().Err() != nil {
			return nil, waited, outcomeClientGone, false
		}
		return nil, waited, outcomeError, false
	}
	if extra := k.room - int64(cap(body)); extra > 0 {
		k.budget.release(extra)
		k.room -= extra
	}
	k.data = body
	req.ContentLength = int64(len(body))
	req.Body = k.reader()
	req.GetBody = func() (io.ReadCloser, error) { return k.reader(), nil }
	return k, waited, 0, true
}

// reserve takes room in the budget for want bytes, waiting for it at most
// until the max wait since begin or the client's deadline, whichever is
// first. It reports false when it answered instead.
func (r *route) reserve(w http.ResponseWriter, req *http.Request, want int64, begin, deadline time.Time) (*keptBody, time.Duration, outcome, bool) {
	k := &keptBody{budget: r.budget}
	until, cause := begin.Add(r.maxWait()), errMaxWait
	if !deadline.IsZero() && deadline.Before(until) {
		until, cause = deadline, errClientDeadline
	}
	ctx, cancel := context.WithDeadlineCause(req.Context(), until, cause)
	defer cancel()
	start := time.Now()
	room, err := r.budget.acquire(ctx, want)
	waited := time.Since(start)
	switch {
	case err == nil:
		k.room = room
		return k, waited, 0, true
	case req.Context().Err() != nil:
		w.WriteHeader(499) // the client has gone: nobody to answer, as fail says
		return nil, waited, outcomeClientGone, false
	case errors.Is(err, errClientDeadline):
		r.answer(w, http.StatusGatewayTimeout, "timeout_error", "", "no room to hold the request's body within the client's timeout: the proxy holds too many large bodies (--body-budget)")
		return nil, waited, outcomeDeadline, false
	}
	r.refuse(w, req, nil, 0, "waited the proxy's max wait for room to hold the request's body: it holds too many large bodies (--body-budget)")
	return nil, waited, outcomeMaxWait, false
}

// readBody reads a body of length n (-1: unknown) up to limit+1 bytes.
// A body of known length is read into a buffer of its size, allocated
// once: a growing buffer would double its memory (a bytes.Buffer keeps
// room to read on after the last byte), and its earlier copies would be
// garbage.
func readBody(body io.Reader, n, limit int64) ([]byte, error) {
	if n >= 0 {
		buf := make([]byte, n)
		_, err := io.ReadFull(body, buf)
		if err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("the body ended before its Content-Length, %d bytes", n)
		}
		return buf, err
	}
	buf, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err == nil && int64(len(buf)) <= limit && cap(buf)-len(buf) > len(buf)/8 {
		buf = bytes.Clone(buf) // held until answered: no room to spare
	}
	return buf, err
}

// tooLarge answers 413 in the upstream's style.
func (r *route) tooLarge(w http.ResponseWriter, limit int64) {
	r.answer(w, http.StatusRequestEntityTooLarge, r.tooLargeKind(), "request_too_large",
		fmt.Sprintf("the request body is larger than the proxy's max body, %s (--max-body, or max_body in the configuration)", bytesize.Format(limit)))
}

// tooLargeKind is the error type of a 413 in the upstream's style.
func (r *route) tooLargeKind() string {
	if r.Preset == OpenAI {
		return "invalid_request_error"
	}
	return "request_too_large"
}

// bodyIdleTimeout is how long a request body may send nothing before the
// proxy gives up on it. Its room in the body budget is taken by its
// Content-Length before it is read, so a client that declared a large
// body and trickled it, or stopped, held room the other requests waited
// for, for as long as it liked (outside review).
var bodyIdleTimeout = 30 * time.Second

// idleReader reads a request body with a read deadline bodyIdleTimeout
// after each read began, through the connection's ResponseController
// (where the server does not support deadlines, without one).
type idleReader struct {
	r       io.Reader
	rc      *http.ResponseController
	expired bool
}

func (i *idleReader) Read(p []byte) (int, error) {
	i.rc.SetReadDeadline(time.Now().Add(bodyIdleTimeout))
	n, err := i.r.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		i.expired = true
	}
	return n, err
}

// done lifts the deadline, so that the connection serves on, unless it
// passed: then the connection is not read again (net/http would read the
// rest of the body the client is not sending), and closes once answered.
func (i *idleReader) done() {
	if !i.expired {
		i.rc.SetReadDeadline(time.Time{})
	}
}

// timedOut reports whether err came of the idle deadline.
func (i *idleReader) timedOut(err error) bool { return err != nil && i.expired }
