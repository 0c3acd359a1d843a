package sluice

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// Class is what a call's result means for retrying and for the gate. The
// zero Class is ClassOK.
type Class int

// The classes of a call's result, from Classify.
const (
	ClassOK             Class = iota // 2xx (and 1xx/3xx that reach us)
	ClassThrottled                   // 429 rate or concurrency limit: pause the gate, retry
	ClassQuotaExhausted              // insufficient_quota, spend or billing limit: fatal for the whole run
	ClassOverloaded                  // 529, 503: back off longer, retry
	ClassTransient                   // 5xx, 408, 409, 425, connection reset, EOF, timeouts: retry
	ClassFatal                       // other 4xx (400, 401, 403, 404, 413, 422...), 501, 505: do not retry
	ClassCanceled                    // the caller's own context was cancelled: not retried, not a sample
	// ClassSharedUnavailable: the limits shared with other processes
	// cannot be asked (their store is down and was told to refuse then;
	// ErrSharedUnavailable). Nothing was sent and nothing is wrong with
	// the call: stop starting calls and try again later. Not retried
	// here, not a sample.
	ClassSharedUnavailable
)

// String returns the class's name: "ok", "throttled", "quota-exhausted",
// "overloaded", "transient", "fatal", "canceled" or "shared-unavailable".
func (c Class) String() string {
	switch c {
	case ClassOK:
		return "ok"
	case ClassThrottled:
		return "throttled"
	case ClassQuotaExhausted:
		return "quota-exhausted"
	case ClassOverloaded:
		return "overloaded"
	case ClassTransient:
		return "transient"
	case ClassFatal:
		return "fatal"
	case ClassCanceled:
		return "canceled"
	case ClassSharedUnavailable:
		return "shared-unavailable"
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// Retryable reports whether a call of this class may be tried again:
// throttled, overloaded and transient calls may.
func (c Class) Retryable() bool {
	return c == ClassThrottled || c == ClassOverloaded || c == ClassTransient
}

// classifyScan bounds how much of a body Classify reads: API error bodies
// are small, and a huge body is not an error envelope.
const classifyScan = 64 << 10

// quotaMarkers are the words with which APIs say a run cannot go on until a
// human pays or raises a limit, lower-cased. Google's "Quota exceeded for
// quota metric ... per minute" is deliberately not among them: it is a rate
// limit.
var quotaMarkers = []string{
	"insufficient_quota",
	"billing_hard_limit_reached",
	"quota_exceeded",
	"exceeded your current quota",
	"spend limit",
	"credit balance is too low",
}

// Classify says what a call's result means. err is the transport's error
// when there was no response, status, h and body the response otherwise
// (body may be a prefix, or nil). See the Class constants for the table;
// beyond it:
//
//   - an x-should-retry header on a non-2xx response overrides the status:
//     "true" makes a fatal result transient, "false" makes any result but
//     ClassQuotaExhausted fatal;
//   - an Anthropic error envelope with overloaded_error is overloaded
//     whatever the status;
//   - a quota marker (insufficient_quota, spend limit, credit balance...) is
//     ClassQuotaExhausted on a 429 or a 402 anywhere in the body (unless a
//     429's body says when to retry or that the quota is per minute, as
//     Google's rate refusals do), and on a
//     400 or 403 (how Anthropic reports an empty credit balance) when the
//     API's error envelope says it: in its code or type, or at the start
//     of its message, never in text it quotes;
//   - errors: one matching ErrSharedUnavailable is ClassSharedUnavailable,
//     whatever wraps it; the caller's context.Canceled is ClassCanceled;
//     a cost no limit could ever admit (ErrTooLarge), certificate errors,
//     unsupported URL schemes and an *UnreachableError (a host given up
//     after its quick retries) are fatal; everything else (timeouts,
//     resets, refusals, EOF, DNS) is transient.
//
// Classify never panics and does not retain body.
func Classify(status int, h http.Header, body []byte, err error) Class {
	if err != nil {
		return classifyError(err)
	}
	c := classifyStatus(status, body)
	if c == ClassOK || status/100 == 2 {
		return c
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("X-Should-Retry"))) {
	case "true":
		if c == ClassFatal {
			return ClassTransient
		}
	case "false":
		if c != ClassQuotaExhausted {
			return ClassFatal
		}
	}
	return c
}

// classifyStatus classifies a response by its status and body.
func classifyStatus(status int, body []byte) Class {
	if len(body) > classifyScan {
		body = body[:classifyScan]
	}
	switch {
	case status < 100 || status > 599:
		return ClassTransient // not HTTP: a broken server or proxy
	case status < 400:
		if status/100 == 2 && isOverloadedEnvelope(body) {
			return ClassOverloaded
		}
		return ClassOK
	case status == http.StatusTooManyRequests:
		if mentionsQuota(body) && !saysRetryLater(body) {
			return ClassQuotaExhausted
		}
		return ClassThrottled
	case status == 529, status == http.StatusServiceUnavailable, isOverloadedEnvelope(body):
		return ClassOverloaded
	case status == http.StatusNotImplemented, status == http.StatusHTTPVersionNotSupported:
		return ClassFatal // the server lacks the feature: asking again cannot help
	case status >= 500:
		return ClassTransient
	case status == http.StatusRequestTimeout, status == http.StatusConflict, status == http.StatusTooEarly:
		return ClassTransient
	case status == http.StatusPaymentRequired:
		if mentionsQuota(body) {
			return ClassQuotaExhausted
		}
	case status == http.StatusBadRequest, status == http.StatusForbidden:
		// A 400 is also how an API refuses one request, often quoting
		// it: a prompt asking about a "spend limit" halted the gate for
		// good, every later call failing unsent. So the API's own error
		// envelope must say it, in its code or type or at the start of
		// its message (quota.go).
		if quotaEnvelope(body) {
			return ClassQuotaExhausted
		}
	}
	return ClassFatal
}

// retryLaterMarkers are the words with which a 429 that names a quota
// says it is a rate, lower-cased: Google's per-minute refusal begins "You
// exceeded your current quota" (a quota marker) and goes on with a
// RetryInfo retryDelay, "Please retry in 2.5s" and a quota id ending
// PerMinute. Taken for billing exhaustion, it halted a long-running
// service's gate for good (outside review).
var retryLaterMarkers = []string{"retrydelay", "please retry in", "perminute", "per minute"}

// saysRetryLater reports whether body carries one of the
// retryLaterMarkers.
func saysRetryLater(body []byte) bool {
	lower := bytes.ToLower(body)
	for _, m := range retryLaterMarkers {
		if bytes.Contains(lower, []byte(m)) {
			return true
		}
	}
	return false
}

// mentionsQuota reports whether body carries one of the quotaMarkers.
func mentionsQuota(body []byte) bool {
	if len(body) == 0 {
		return false
	}
	lower := bytes.ToLower(body)
	for _, m := range quotaMarkers {
		if bytes.Contains(lower, []byte(m)) {
			return true
		}
	}
	return false
}

// isOverloadedEnvelope reports whether body is an Anthropic error envelope
// saying overloaded_error, as a stream that fails after its 200 status
// carries, or an error status from a gateway in front of the API. A body
// that merely mentions the word (a completion, a 500 quoting the request)
// is not.
func isOverloadedEnvelope(body []byte) bool {
	if !bytes.Contains(body, []byte("overloaded_error")) {
		return false
	}
	var env struct {
		Type  string `json:"type"`
		Error struct {
			Type string `json:"type"`
		} `json:"error"`
	}
	return json.Unmarshal(body, &env) == nil && env.Type == "error" && env.Error.Type == "overloaded_error"
}

// classifyError classifies a call that got no response.
func classifyError(err error) Class {
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		netErr    net.Error
		perm      *permanentError
		gone      *UnreachableError
		notTLS    tls.RecordHeaderError
		address   *net.AddrError
	)
	switch {
	case errors.Is(err, ErrSharedUnavailable):
		// First: the store's outage is about the limits, not the call,
		// even when whoever passed it on marked it Permanent.
		return ClassSharedUnavailable
	case errors.Is(err, ErrTooLarge):
		// The call's cost exceeds what a limit could ever admit: asking
		// again asks the same.
		return ClassFatal
	case errors.As(err, &perm):
		// Marked so by whoever made it, such as a dialer refusing an
		// address: the same request would meet the same refusal.
		return ClassFatal
	case errors.As(err, &gone):
		// A RetryPolicy already gave the host its quick retries
		// (unreachable.go): a caller retrying it again, with a Pool's
		// backoff, would bring back the long wait it ended.
		return ClassFatal
	case errors.Is(err, context.Canceled), errors.Is(err, ErrWouldExceedDeadline):
		// The caller gave up, or its own deadline cannot be met: not the
		// API's doing, and trying again cannot help.
		return ClassCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return ClassTransient
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ClassTransient
	case errors.As(err, &verify), errors.As(err, &authority), errors.As(err, &hostname),
		errors.As(err, &invalid):
		return ClassFatal // retrying will meet the same certificate
	case strings.Contains(err.Error(), "unsupported protocol scheme"), refusedByNetHTTP(err.Error()):
		return ClassFatal
	case errors.As(err, &notTLS), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return ClassFatal // https to a server that speaks plain HTTP: so it will again
	case errors.As(err, &address):
		return ClassFatal // an address that cannot be dialled (a port over 65535)
	}
	return ClassTransient
}

// refusedByNetHTTP reports whether msg is net/http refusing a request it
// will not send (a header with a line break, an invalid method): the same
// request meets the same refusal, and nothing reached the API. net/http
// has no error value for these; its messages are stable.
func refusedByNetHTTP(msg string) bool {
	for _, m := range [...]string{"net/http: invalid header field", "net/http: invalid method", "net/http: invalid trailer"} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// refusedUndone reports whether a response with this status and class
// says the API refused the call without doing its work, so that the
// tokens charged for it in advance are all given back (settled with a
// zero Usage) rather than kept as if the model had run: a 4xx that is
// fatal (400 invalid request, 401, 403, 404, 413, 422...), throttled (429:
// refused before any work) or quota-exhausted. Neither Anthropic nor
// OpenAI bills such a call, and their error bodies report no usage.
// Without the refund, one request with an absurd max_tokens that the API
// rejects at once left its whole estimate charged, and the budget refused
// every later call for hours.
//
// Overloaded (529, 503) and transient (5xx, 408, 409) results keep their
// estimate: the APIs do not bill them either, but a 500 or a 504 may come
// after the model ran, when the API's own token counter has already
// counted it, and over-charging only slows the next calls a little while
// under-charging could overrun the API's limit.
func refusedUndone(status int, c Class) bool {
	if status < 400 || status > 499 {
		return false
	}
	return c == ClassFatal || c == ClassThrottled || c == ClassQuotaExhausted
}

// neverSent reports whether a transport error means the request never
// reached the API: the connection could not be made (refused, no route,
// no such host). Such a call used nothing of the API's limits.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// unreachable reports whether err says the call could not reach its host:
// the connection was refused (nothing listens at the address) or the host
// name does not exist. RetryPolicy gives such calls a few quick retries,
// not the usual backoff (unreachable.go says why). A name that failed to
// resolve for a while (a DNS timeout) and unreachable networks are not
// among them: those pass, and get the usual retries.
func unreachable(err error) bool {
	if err == nil {
		return false
	}
	var dns *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dns) && dns.IsNotFound
}

// unreachableAddr returns the address an unreachable error names: the one
// dialled, or the name that does not resolve; otherwise fallback.
func unreachableAddr(err error, fallback string) string {
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound && dns.Name != "" {
		return dns.Name
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Addr != nil {
		return op.Addr.String()
	}
	return fallback
}

// apiMessageMax is how many bytes of message apiMessage keeps.
const apiMessageMax = 300

// apiMessage extracts a short message for humans from an API's error body:
//
//	{"type":"error","error":{"type":"rate_limit_error","message":"m"}}  →  "rate_limit_error: m"
//	{"error":{"message":"m","type":"t","code":"rate_limit_exceeded"}}   →  "rate_limit_exceeded: m"
//	{"message":"m"}, {"error":"m"}, {"detail":"m"}                      →  "m"
//
// Any other body is returned as text. Either way whitespace runs become one
// space, invalid UTF-8 becomes U+FFFD, and the result is cut at a rune
// boundary to at most 300 bytes plus "…". It never panics.
func apiMessage(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '{' && len(body) <= classifyScan {
		if m, ok := jsonMessage(body); ok {
			return shorten(m)
		}
	}
	if len(body) > 4*apiMessageMax {
		body = body[:4*apiMessageMax] // shorten will cut further; this bounds its work
	}
	return shorten(string(body))
}

// jsonMessage reads the message out of a JSON error body.
func jsonMessage(body []byte) (string, bool) {
	var env struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &env) != nil {
		return "", false
	}
	var inner struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
	}
	if json.Unmarshal(env.Error, &inner) == nil {
		kind := jsonScalar(inner.Code)
		if kind == "" {
			kind = inner.Type
		}
		switch {
		case kind != "" && inner.Message != "":
			return kind + ": " + inner.Message, true
		case kind != "" || inner.Message != "":
			return kind + inner.Message, true
		}
	}
	for _, raw := range []json.RawMessage{env.Error, env.Message, env.Detail} {
		if s := jsonScalar(raw); s != "" {
			return s, true
		}
	}
	return "", false
}

// jsonScalar returns a JSON string's or number's text, or "".
func jsonScalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// shorten makes s one valid UTF-8 line of at most apiMessageMax bytes plus
// an ellipsis.
func shorten(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			if b.Len()+1 > apiMessageMax {
				return b.String() + "…"
			}
			b.WriteByte(' ')
			space = false
		}
		if b.Len()+utf8.RuneLen(r) > apiMessageMax {
			return b.String() + "…"
		}
		b.WriteRune(r)
	}
	return b.String()
}

// StatusError describes an unsuccessful HTTP response: its status, what it
// means, and the API's own message.
type StatusError struct {
	Status  int
	Class   Class
	Message string
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("sluice: %d %s (%v)", e.Status, http.StatusText(e.Status), e.Class)
	}
	return fmt.Sprintf("sluice: %d %s (%v): %s", e.Status, http.StatusText(e.Status), e.Class, e.Message)
}

// Is makes a quota-exhausted response match ErrQuotaExhausted.
func (e *StatusError) Is(target error) bool {
	return target == ErrQuotaExhausted && e.Class == ClassQuotaExhausted
}

// isTimeout reports whether err is a timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// mentionsConcurrency reports whether a 429 body blames calls in flight:
// Anthropic's "concurrent connections", and the other ways APIs put it
// ("concurrency limit", "too many requests in flight", "simultaneous
// requests", "parallel requests").
func mentionsConcurrency(body []byte) bool {
	lower := bytes.ToLower(body)
	for _, word := range concurrencyWords {
		if bytes.Contains(lower, word) {
			return true
		}
	}
	return false
}

var concurrencyWords = [][]byte{[]byte("concurren"), []byte("in flight"), []byte("in-flight"), []byte("simultaneous"), []byte("parallel request")}

// Permanent marks err as not worth retrying: ClassOf(Permanent(err)) is
// ClassFatal. errors.Is and errors.As see through it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// ClassOf classifies an error returned by a Pool's function, a
// Transport or a Gate: nil is ClassOK; an error matching
// ErrSharedUnavailable is ClassSharedUnavailable, even marked Permanent;
// a StatusError has its own class; Permanent errors are fatal; context
// cancellation is ClassCanceled; anything else is classified as a
// network error would be (Classify), which makes a cost too large
// (ErrTooLarge) fatal and unknown errors transient.
func ClassOf(err error) Class {
	if err == nil {
		return ClassOK // before the errors.As targets, which escape: every success comes here
	}
	var se *StatusError
	var pe *permanentError
	switch {
	case errors.Is(err, ErrSharedUnavailable):
		return ClassSharedUnavailable
	case errors.As(err, &pe):
		return ClassFatal
	case errors.As(err, &se):
		return se.Class
	case errors.Is(err, context.Canceled):
		return ClassCanceled
	}
	if resp, body := sdkResponse(err); resp != nil { // an SDK's refusal: classify_sdk.go
		return Classify(resp.StatusCode, resp.Header, body, nil)
	}
	return Classify(0, nil, nil, err)
}
