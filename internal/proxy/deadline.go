package proxy

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// A client cannot send its context, but it can say how long it will wait:
// the official SDKs built by Stainless send X-Stainless-Timeout, in
// seconds (Anthropic's with every request; OpenAI's TypeScript SDK only
// for a call given its own timeout, as an outside review found); a
// client may also send X-Sluice-Timeout (a Go duration such
// as 30s, or seconds) or Request-Timeout (seconds). The proxy takes the
// smallest as the client's patience: the request is queued, sent and
// retried only while it can still be answered in time, and is answered a
// little before the client gives up (clientMargin), so that the client
// reads the proxy's answer rather than its own timeout.

// timeoutHeaders are the headers that carry a client's timeout.
var timeoutHeaders = [...]string{"X-Stainless-Timeout", "X-Sluice-Timeout", "Request-Timeout"}

// maxClientTimeout bounds what a client's timeout may say; longer is no
// deadline (an SDK's "no timeout" can be a huge number).
const maxClientTimeout = 24 * time.Hour

// clientTimeout returns the smallest timeout h's headers give, 0 when
// none gives a usable one. A header that cannot be read is ignored: a
// client's mistake in it must not refuse its call.
func clientTimeout(h http.Header) time.Duration {
	var least time.Duration
	for _, name := range timeoutHeaders {
		v := h.Get(name)
		if v == "" {
			continue
		}
		d, ok := parseTimeout(v, name == "X-Sluice-Timeout")
		if ok && (least == 0 || d < least) {
			least = d
		}
	}
	return least
}

// parseTimeout reads seconds ("600", "2.5") or, when duration, also a Go
// duration ("30s", "1m30s"). It refuses what is not positive, not finite
// or longer than maxClientTimeout.
func parseTimeout(v string, duration bool) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	var d time.Duration
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(secs) || secs <= 0 || secs > maxClientTimeout.Seconds() {
			return 0, false
		}
		d = time.Duration(secs * float64(time.Second))
	} else if duration {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, false
		}
	} else {
		return 0, false
	}
	if d <= 0 || d > maxClientTimeout {
		return 0, false
	}
	return d, true
}

// clientMargin is how much before the client's deadline the proxy
// answers: a tenth of the timeout, at most a second.
func clientMargin(timeout time.Duration) time.Duration {
	return min(timeout/10, time.Second)
}

// clientDeadline returns when the request begun at begin must be
// answered by, zero when its client set no timeout.
func clientDeadline(h http.Header, begin time.Time) time.Time {
	d := clientTimeout(h)
	if d == 0 {
		return time.Time{}
	}
	return begin.Add(d - clientMargin(d))
}

// ownHeaderError says what is wrong with the proxy's own headers in h,
// X-Sluice-Timeout and X-Sluice-Priority, "" when nothing is. Unlike an
// SDK's timeout header, which a client sends whether or not a proxy
// reads it, these are written for the proxy alone: a typo ("30 s") that
// silently dropped the deadline or the priority would be found only in
// production (outside review), so it is a 400 naming the header.
func ownHeaderError(h http.Header) string {
	if v := h.Get("X-Sluice-Timeout"); v != "" {
		if _, ok := parseTimeout(v, true); !ok {
			return fmt.Sprintf("X-Sluice-Timeout %q: want a duration such as 30s or 1m30s, or seconds, more than 0 and at most %v", v, maxClientTimeout)
		}
	}
	if len(h[priorityHeader]) > 0 {
		v := h.Get(priorityHeader)
		if _, err := strconv.Atoi(strings.TrimSpace(v)); err != nil {
			return fmt.Sprintf("%s %q: want a whole number (higher is served first; 0 is the default)", priorityHeader, v)
		}
	}
	return ""
}
