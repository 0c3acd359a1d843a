package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/sluicehq/sluice/internal/bytesize"
)

// A request's body is read whole before the request queues, up to its
// route's MaxBody: a body over it is refused at once with 413, before any
// quota is used, and the copy kept for retries is bounded by it. The
// Transport then gets the body from GetBody for each attempt (and the LLM
// presets' model key from the same copy) without copying it again.

// DefaultMaxBody is a route's MaxBody when it gives none: 32 MiB, the
// Anthropic Messages API's own limit.
const DefaultMaxBody = 32 << 20

func (r *route) maxBody() int64 {
	if r.MaxBody == 0 {
		return DefaultMaxBody
	}
	return r.MaxBody
}

// keepBody reads req's body into memory, up to the route's max body,
// makes req send that copy, and returns it (nil for none). It reports
// false when it answered instead, with how the request ended: the body is
// too large, or could not be read.
func (r *route) keepBody(w http.ResponseWriter, req *http.Request) ([]byte, outcome, bool) {
	limit := r.maxBody()
	if req.ContentLength > limit {
		r.tooLarge(w, limit)
		return nil, outcomeTooLarge, false
	}
	if req.Body == nil || req.Body == http.NoBody {
		return nil, 0, true
	}
	var buf bytes.Buffer
	if req.ContentLength > 0 {
		buf.Grow(int(req.ContentLength))
	}
	_, err := buf.ReadFrom(io.LimitReader(req.Body, limit+1))
	req.Body.Close()
	switch {
	case int64(buf.Len()) > limit:
		r.tooLarge(w, limit)
		return nil, outcomeTooLarge, false
	case err != nil:
		// The client sent a broken body, or went away while sending it.
		r.answer(w, http.StatusBadRequest, "invalid_request_error", "", "could not read the request body: "+err.Error())
		if req.Context().Err() != nil {
			return nil, outcomeClientGone, false
		}
		return nil, outcomeError, false
	}
	body := buf.Bytes()
	req.ContentLength = int64(len(body))
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return body, 0, true
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
