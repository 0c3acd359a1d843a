package batch

import (
	"net/http"

	"github.com/sluicehq/sluice"
)

// watchedBase is the Transport's base: it sends each attempt and tells the
// attempt's item (its itemCall, from the request's context) when the
// attempt failed in a way the Transport may retry, and when the next
// attempt goes, so that the crew knows which items wait between attempts.
// A guess that errs costs little: a spare worker for one item.
type watchedBase struct {
	base http.RoundTripper
}

// watch wraps base; nil means the pool the Transport would make itself
// (Limits.HTTPTransport).
func watch(base http.RoundTripper, limits sluice.Limits) watchedBase {
	if base == nil {
		base = limits.HTTPTransport()
	}
	return watchedBase{base: base}
}

// RoundTrip sends one attempt.
func (w watchedBase) RoundTrip(req *http.Request) (*http.Response, error) {
	ic, _ := req.Context().Value(itemCallKey{}).(*itemCall)
	if ic != nil {
		ic.goingOn()
	}
	resp, err := w.base.RoundTrip(req)
	if ic != nil && mayRetry(resp, err) {
		ic.attemptFailed()
	}
	return resp, err
}

// CloseIdleConnections closes the base's idle connections.
func (w watchedBase) CloseIdleConnections() {
	if c, ok := w.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// mayRetry guesses whether the Transport retries an attempt that came back
// with resp and err, by the library's classification of its status,
// headers or error (classify.go), without the body the Transport reads
// later: a wrong guess (a 429 whose body says the quota is exhausted) only
// starts a spare worker for a while.
func mayRetry(resp *http.Response, err error) bool {
	if err != nil {
		return sluice.Classify(0, nil, nil, err).Retryable()
	}
	return sluice.Classify(resp.StatusCode, resp.Header, nil, nil).Retryable()
}
