package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice"
)

// Everything that decides what the proxy itself answers, as opposed to
// what it passes on from the upstream, is in this file.

// fail is the ReverseProxy's ErrorHandler: the Transport gave no response.
func (r *route) fail(w http.ResponseWriter, req *http.Request, err error) {
	var we *sluice.WaitError
	cause := context.Cause(req.Context())
	if cause == nil && errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &we) {
		// The gate read a deadline of the request's as passed a moment
		// before the proxy's timer ended it: the same answer as the
		// timer's (an outside review: told "the upstream may have acted
		// on it" of requests never sent).
		if a := admissionOf(req.Context()); a != nil && (a.info == nil || a.info.Attempts == 0) {
			cause = a.passed(time.Now())
		}
	}
	switch {
	case errors.As(err, &we):
		// The limits predict a wait longer than the max wait: refused
		// at once, nothing taken; the prediction is when to come back.
		r.refuse(w, req, bodyOf(req), we.Wait, "the rate limit would delay this request beyond the proxy's max wait or the client's timeout")
	case cause == errMaxWait:
		// Those ahead in the queue came earlier with the same max wait:
		// they are leaving too, and the queue's drain time (counting them)
		// told a crowd refused together to come back long after the
		// slots had freed. The next turn it is, then one each after.
		r.refuse(w, req, bodyOf(req), nextTurn, "waited the proxy's max wait for the rate limit without being admitted")
	case errors.Is(err, errShuttingDown), cause == errShutdownCut:
		// Not sent, not retried, or cut at the upstream as the grace ran
		// out (shutdown_cut.go): the message says which, since the
		// upstream may have acted on one sent. The client may send it
		// again, to this proxy once restarted or straight on.
		w.Header().Set("Retry-After", strconv.Itoa(shutdownRetryAfter))
		r.answer(w, http.StatusServiceUnavailable, "api_error", "", stoppingMessage(req))
	case cause == errClientDeadline:
		// The client's own timeout (X-Stainless-Timeout...) is about to
		// pass: it gets this answer rather than its own timeout.
		// Whether it was sent says whether the upstream may have acted
		// on it (outside review: a request that never left the queue
		// was told "no answer from the upstream").
		msg := "no answer from the upstream API within the client's timeout (retries included)"
		if a := admissionOf(req.Context()); a != nil && (a.info == nil || a.info.Attempts == 0) {
			msg = "the client's timeout came while this request waited for the limits: it was never sent upstream"
		}
		r.answer(w, http.StatusGatewayTimeout, "timeout_error", "", msg)
	case errors.Is(err, sluice.ErrQuotaExhausted):
		// The gate is halted: every waiting and later request of this
		// model gets this, until the proxy is restarted. Retrying cannot
		// help: x-should-retry: false tells the Stainless SDKs (the
		// Anthropic and OpenAI ones), which otherwise retry a 429 or 503
		// twice for nothing. Retry-After is there because every 429 the
		// proxy sends carries one, for clients that know only it: a
		// minute, about as soon as an operator can raise the quota and
		// restart the proxy, and not so often that a client looping on
		// it floods the proxy.
		status, kind, code := http.StatusServiceUnavailable, "api_error", ""
		if r.Preset == OpenAI {
			status, kind, code = http.StatusTooManyRequests, "insufficient_quota", "insufficient_quota"
		}
		w.Header().Set("X-Should-Retry", "false")
		w.Header().Set("Retry-After", strconv.Itoa(r.quotaRetryAfter(req)))
		msg := "the upstream API's quota is exhausted; the proxy stopped sending to it, and lets one request through a minute to see whether it was raised"
		if said := upstreamMessage(err); said != "" {
			msg += "; the upstream said: " + said
		}
		r.answer(w, status, kind, code, msg)
	case req.Context().Err() != nil:
		// The client has gone: nobody to answer. 499, as nginx logs it.
		w.WriteHeader(499)
	case errors.Is(err, sluice.ErrUnknownCost):
		r.answer(w, http.StatusBadRequest, "invalid_request_error", "", r.unknownCost(req))
	case errors.Is(err, sluice.ErrTooLarge):
		// More than a limit of the request's gate could ever admit
		// (the library's answer, the same in every face): refused at
		// once, nothing taken.
		r.overCapacity(w, req, bodyOf(req), err)
	case sluice.ClassOf(err) == sluice.ClassSharedUnavailable:
		// --redis-mode closed, and Redis does not answer: the proxy
		// itself refuses, not the upstream, which it never reached. The
		// store warns once per outage; a line per request here would
		// flood the log. The store tries Redis again every second: a
		// client may come back a few seconds later.
		w.Header().Set("Retry-After", strconv.Itoa(storeRetryAfter))
		// The error names the store (where, as what key; never a
		// password) and the cause.
		r.answer(w, http.StatusServiceUnavailable, "api_error", "", sharedUnavailable(err))
	case errors.Is(err, context.DeadlineExceeded) && req.Context().Err() == nil:
		// The attempts' timeout (--timeout), not the client's: the
		// upstream was reached and did not answer in time, each attempt
		// perhaps done and billed. 504, not "could not reach"; and, the
		// proxy having retried already, the SDKs are told not to
		// multiply its attempts by their own (outside review).
		attempts := 1
		if a := admissionOf(req.Context()); a != nil && a.info != nil && a.info.Attempts > 0 {
			attempts = a.info.Attempts
		}
		timeout := "the proxy's attempt timeout"
		if r.AttemptTimeout > 0 {
			timeout += " (" + r.AttemptTimeout.String() + ")"
		}
		w.Header().Set("X-Should-Retry", "false")
		r.answer(w, http.StatusGatewayTimeout, "timeout_error", "", fmt.Sprintf(
			"the upstream API did not answer within %s, %d %s; the upstream may have acted on %s",
			timeout, attempts, plural(attempts, "attempt", "attempts"), plural(attempts, "it", "each")))
	default:
		r.log.warn("upstream error", "route", r.obs.label, "error", err.Error())
		r.answer(w, http.StatusBadGateway, "api_error", "", "the proxy could not reach the upstream API: "+upstreamCause(err, r.Upstream.Host))
	}
}

// sharedUnavailable says why a request was refused in redis mode closed.
// The store's error names the shared limits (where, as what key) and
// says they cannot be reached; said once.
func sharedUnavailable(err error) string {
	msg := err.Error()
	if !strings.Contains(msg, "cannot be reached") {
		msg = "the shared limits (Redis) cannot be reached: " + msg
	}
	return msg + "; in redis mode closed the proxy refuses requests until they answer"
}

// storeRetryAfter is the Retry-After, in seconds, of the answers refused
// because the shared limits' store cannot be reached.
const storeRetryAfter = 5

// quotaRetryAfter is the Retry-After, in seconds, of the answers of a
// route halted because the upstream's quota is exhausted.
const quotaRetryAfter = 60

// upstreamMessage returns the upstream's own message in err, "" when it
// carries none.
func upstreamMessage(err error) string {
	var se *sluice.StatusError
	if errors.As(err, &se) {
		return se.Message
	}
	return ""
}

// nextTurn, as refuse's wait, asks for the next admission's turn.
const nextTurn time.Duration = -1

// refuse answers req with 429, a moment to come back (promise.go: at
// least wait, the limits' estimate, or the queue's own when wait is 0, or
// the next admission's turn when it is nextTurn) in
// retry-after-ms (which the Anthropic and OpenAI SDKs read first) and
// Retry-After (whole seconds, rounded up, at least 1), the IETF draft's
// RateLimit-Policy and RateLimit headers, and a body in the upstream's
// style. The policies are the limits of the gate req goes through: its
// model's, when the route gives the model limits of its own.
//
// body is the request's body as the proxy kept it (nil when it was not
// kept yet): the model it names picks the gate, and its token estimate
// the pace of a token budget.
func (r *route) refuse(w http.ResponseWriter, req *http.Request, body []byte, wait time.Duration, why string) {
	key := r.gateKey(req, body)
	limits := r.limitsForKey(key)
	pc := r.admissionPace(req, key, body, limits)
	interval := pc.every()
	switch {
	case wait == nextTurn:
		wait = max(interval, time.Millisecond)
		if interval <= 0 {
			wait = time.Second // nothing says how fast places free up
		}
	case wait <= 0:
		wait = r.drainTime(interval)
	}
	wait = r.promises.promise(promiseKeyOf(key), time.Now(), wait, pc)
	secs := max(1, int64(math.Ceil(wait.Seconds())))
	h := w.Header()
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	h.Set("Retry-After-Ms", strconv.FormatInt(max(1, int64(math.Ceil(float64(wait)/float64(time.Millisecond)))), 10))
	// draft-ietf-httpapi-ratelimit-headers: a policy of q units per w
	// seconds, and none of the first left for t seconds.
	var policies []string
	policy := func(name string, rate sluice.Rate) {
		if !rate.IsZero() {
			policies = append(policies, fmt.Sprintf("%q;q=%d;w=%d", name, int64(rate.N), max(1, int64(math.Ceil(rate.Per.Seconds())))))
		}
	}
	policy("requests", limits.Rate)
	policy("window", limits.Window)
	policy("tokens", limits.Tokens)
	policy("input_tokens", limits.InputTokens)
	policy("output_tokens", limits.OutputTokens)
	if len(policies) == 0 {
		policies = append(policies, fmt.Sprintf("%q;q=%d", "queue", r.queueSize()))
	}
	h.Set("RateLimit-Policy", strings.Join(policies, ", "))
	name, _, _ := strings.Cut(policies[0], ";")
	h.Set("RateLimit", fmt.Sprintf("%s;r=0;t=%d", name, secs))
	r.answer(w, http.StatusTooManyRequests, "rate_limit_error", "rate_limit_exceeded", why+"; retry after "+strconv.FormatInt(secs, 10)+"s")
}

// limitsOf returns the limits of the gate req goes through.
func (r *route) limitsOf(req *http.Request) sluice.Limits {
	if len(r.Models) == 0 {
		return r.Limits
	}
	return r.limitsFor(r.key(req))
}

// limitsForKey returns the limits of the gate of key.
func (r *route) limitsForKey(key string) sluice.Limits {
	if len(r.Models) == 0 {
		return r.Limits
	}
	return r.limitsFor(key)
}

// drainTime estimates how long the requests queued now take to be
// admitted: their number, one admission interval each (a second when
// nothing says how fast places free up).
func (r *route) drainTime(interval time.Duration) time.Duration {
	if interval <= 0 {
		return time.Second
	}
	return max(time.Duration(r.queued.Load())*interval, interval)
}

// answer writes an error the way the route's upstream would: clients and
// SDKs read the proxy's errors as they read the API's.
func (r *route) answer(w http.ResponseWriter, status int, kind, code, msg string) {
	msg = "sluice proxy: " + msg
	var body any
	switch r.Preset {
	case Anthropic:
		body = map[string]any{"type": "error", "error": map[string]string{"type": kind, "message": msg}}
	case OpenAI:
		var c any
		if code != "" {
			c = code
		}
		body = map[string]any{"error": map[string]any{"message": msg, "type": kind, "param": nil, "code": c}}
	default:
		body = map[string]any{"error": map[string]string{"type": kind, "message": msg}}
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// upstreamCause says in a few words why the upstream gave no response,
// for the body of the proxy's 502: the client cannot see the log. A
// refused connection has had its quick retry already: the library gives
// a host that refuses a connection a quick retry or a few, not the
// usual backoff (sluice.ErrUnreachable).
func upstreamCause(err error, host string) string {
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused to " + host
	case errors.As(err, &dns):
		return "cannot resolve " + dns.Name + ": " + dns.Err
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by " + host
	}
	return err.Error()
}

// stoppingMessage says what became of a request the proxy stopped before
// it was done: never sent, or sent and failed with no answer (an answer
// would have been passed on) and not retried.
func stoppingMessage(req *http.Request) string {
	sent := 0
	if a := admissionOf(req.Context()); a != nil && a.info != nil {
		sent = a.info.Attempts
	}
	switch sent {
	case 0:
		return "the proxy is stopping: this request was never sent upstream"
	case 1:
		return "the proxy is stopping: this request was sent upstream once, got no answer, and was not retried"
	default:
		return fmt.Sprintf("the proxy is stopping: this request was sent upstream %d times, got no answer, and was not retried", sent)
	}
}

// plural is one or many by n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
