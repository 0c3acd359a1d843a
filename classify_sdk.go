package sluice

import (
	"errors"
	"net/http"
	"reflect"
	"time"
)

// The official SDKs (OpenAI's and Anthropic's for Go, and others made the
// same way) return an API's refusal as an error of their own that keeps
// the *http.Response in a Response field, and the body in RawJSON. A
// Pool whose fn calls such an SDK with its own http.Client saw only an
// error it did not know: transient, whatever it said. A 401 was tried
// nine times, and a 429's Retry-After never paused the gate (outside
// review). sdkResponse finds the response in err, without importing any
// SDK, so that ClassOf and the Pool read it as the Transport would.

// sdkResponse returns the response an SDK's error in err's chain keeps,
// and the body it kept of it (nil when it kept none); resp is nil when
// there is none.
func sdkResponse(err error) (resp *http.Response, body []byte) {
	for _, e := range chain(err) {
		if resp = responseField(e); resp != nil {
			if r, ok := e.(interface{ RawJSON() string }); ok {
				body = []byte(r.RawJSON())
			}
			return resp, body
		}
	}
	return nil, nil
}

// chain lists err and what it wraps, depth first, at most 32 errors.
func chain(err error) []error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		for e != nil && len(out) < 32 {
			out = append(out, e)
			switch u := e.(type) {
			case interface{ Unwrap() []error }:
				for _, inner := range u.Unwrap() {
					walk(inner)
				}
				return
			default:
				e = errors.Unwrap(e)
			}
		}
	}
	walk(err)
	return out
}

var responseType = reflect.TypeFor[*http.Response]()

// responseField returns e's exported field Response, when e is a struct
// or a pointer to one with such a field of type *http.Response.
func responseField(e error) *http.Response {
	v := reflect.ValueOf(e)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	f := v.FieldByName("Response")
	if !f.IsValid() || f.Type() != responseType || !f.CanInterface() {
		return nil
	}
	resp, _ := f.Interface().(*http.Response)
	if resp == nil || resp.StatusCode < 100 {
		return nil
	}
	return resp
}

// sdkOutcome is what an SDK's error says of the call, as the Transport
// would have classified its response: the class and the rate-limit
// headers (a Retry-After pauses the gate). ok is false when err keeps no
// response.
func sdkOutcome(err error, now time.Time) (o Outcome, ok bool) {
	resp, body := sdkResponse(err)
	if resp == nil {
		return Outcome{}, false
	}
	o.Class = Classify(resp.StatusCode, resp.Header, body, nil)
	o.ConcurrencyLimited = o.Class == ClassThrottled && mentionsConcurrency(body)
	if mayLimit(resp.Header) {
		if info := parseRateLimitHeaders(resp.Header, now); info.said() {
			o.RateLimit = &info
		}
	}
	return o, true
}
