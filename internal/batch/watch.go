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

// watch wraps base; nil means the Transport's own default, made here as
// the Transport makes it (sluice.Transport's init): an http.Transport with
// an idle connection per slot.
func watch(base http.RoundTripper, limits sluice.Limits) watchedBase {
	if base == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = limits.Concurrency
		if tr.MaxIdleConnsPerHost <= 0 {
			tr.MaxIdleConnsPerHost = sluice.DefaultConcurrency
		}
		tr.MaxIdleConns = max(tr.MaxIdleConns, tr.MaxIdleConnsPerHost)
		base = tr
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
// with resp and err: errors, 408, 409, 429 and 5xx (classify.go decides;
// a wrong guess only starts a spare worker for a while).
func mayRetry(resp *http.Response, err error) bool {
	if err != nil {
		return true
	}
	switch s := resp.StatusCode; {
	case s >= 200 && s <= 299:
		return false
	case s == http.StatusRequestTimeout, s == http.StatusConflict, s == http.StatusTooManyRequests, s >= 500:
		return true
	}
	return resp.Header.Get("X-Should-Retry") == "true"
}
