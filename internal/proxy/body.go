package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
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

// keepBody reads req's body into memory, up to the route's max body, and
// makes req send that copy. It reports false when it answered instead,
// with how the request ended: the body is too large, or could not be
// read.
func (r *route) keepBody(w http.ResponseWriter, req *http.Request) (outcome, bool) {
	limit := r.maxBody()
	if req.ContentLength > limit {
		r.tooLarge(w, limit)
		return outcomeTooLarge, false
	}
	if req.Body == nil || req.Body == http.NoBody {
		return 0, true
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
		return outcomeTooLarge, false
	case err != nil:
		// The client sent a broken body, or went away while sending it.
		r.answer(w, http.StatusBadRequest, "invalid_request_error", "", "could not read the request body: "+err.Error())
		if req.Context().Err() != nil {
			return outcomeClientGone, false
		}
		return outcomeError, false
	}
	body := buf.Bytes()
	req.ContentLength = int64(len(body))
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return 0, true
}

// tooLarge answers 413 in the upstream's style.
func (r *route) tooLarge(w http.ResponseWriter, limit int64) {
	kind := "request_too_large"
	if r.Preset == OpenAI {
		kind = "invalid_request_error"
	}
	r.answer(w, http.StatusRequestEntityTooLarge, kind, "request_too_large",
		fmt.Sprintf("the request body is larger than the proxy's max body, %s (--max-body, or max_body in the configuration)", FormatSize(limit)))
}

// ParseSize reads a size in bytes: a count, or a count with a unit of
// KiB, MiB or GiB (powers of 1024), KB, MB or GB (powers of 1000), or B.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	mult := map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30}[strings.ToUpper(unit)]
	if num == "" || mult == 0 {
		return 0, fmt.Errorf("proxy: size %q: want a number of bytes, or with a unit such as 32MiB", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > (1<<62)/mult {
		return 0, fmt.Errorf("proxy: size %q: too large", s)
	}
	return n * mult, nil
}

// FormatSize writes n bytes as ParseSize reads it, in the largest binary
// unit that divides it.
func FormatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
