package mock

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// genericAPI answers any method and path with a small JSON body that
// echoes the request, applying the request and concurrency limits.
type genericAPI struct{ s *Server }

// route answers {"method", "path", "count", "body"}: count is how many
// requests have been accepted, this one included, and body is the
// request's body (as JSON when it is JSON, else as a string; absent when
// empty), so that a test can tell which request each answer is for.
func (g genericAPI) route(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if r.ContentLength != 0 { // a GET has none: no buffer to allocate
		var status int
		var err error
		if body, status, err = readBody(r); err != nil {
			g.s.invalid(w, status, map[string]string{"error": err.Error()})
			return
		}
	}
	g.s.call(w, r, cost{}, func(p *reply) {
		n := p.start("application/json")
		echo := map[string]any{"method": r.Method, "path": r.URL.Path, "count": n}
		switch {
		case len(body) == 0:
		case json.Valid(body):
			echo["body"] = json.RawMessage(body)
		default:
			echo["body"] = string(body)
		}
		b, _ := json.Marshal(echo)
		p.body(append(b, '\n'), 0)
	})
}

// rateHeaders sets X-RateLimit-Limit (what the bucket holds when full),
// -Remaining and -Reset (whole seconds until full, rounded up).
func (g genericAPI) rateHeaders(h http.Header, snap snapshot) {
	b := snap.requests
	if !b.set {
		return
	}
	h.Set("X-RateLimit-Limit", strconv.FormatInt(b.capacity, 10))
	h.Set("X-RateLimit-Remaining", strconv.FormatInt(b.remaining, 10))
	reset := int64(0)
	if b.untilFull > 0 {
		reset = retryAfterSeconds(b.untilFull)
	}
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
}

func (g genericAPI) throttled(w http.ResponseWriter, ref refusal) {
	if d, ok := ref.retryAfter(); ok {
		w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(d), 10))
	}
	msg := "rate limit exceeded"
	if ref.reason == reasonConcurrency {
		msg = "too many concurrent requests"
	}
	g.s.writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": msg}, &ref.snap)
}

func (g genericAPI) failStatuses() []int {
	return []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}
}

func (g genericAPI) failed(w http.ResponseWriter, status int) {
	g.s.writeJSON(w, status, map[string]string{"error": strings.ToLower(http.StatusText(status))}, nil)
}
