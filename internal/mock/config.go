package mock

import (
	"fmt"
	"math"
)

// Style is the API a Server imitates.
type Style string

// The styles a Server can imitate.
const (
	// Anthropic serves POST /v1/messages and POST /v1/messages/count_tokens
	// with the Messages API's bodies and anthropic-ratelimit-* headers.
	Anthropic Style = "anthropic"
	// OpenAI serves POST /v1/chat/completions, POST /v1/responses and POST
	// /v1/embeddings with OpenAI's bodies and x-ratelimit-* headers.
	OpenAI Style = "openai"
	// Generic answers any method and path with a small JSON body echoing
	// the request, and X-RateLimit-* headers.
	Generic Style = "generic"
)

// Config describes the API a Server imitates. The zero value is a generic
// API with no limits that answers at once.
type Config struct {
	// Style is the API imitated; empty means Generic.
	Style Style

	// Requests is the request bucket: every request needs one unit.
	Requests Limit
	// Tokens is the total-tokens bucket (prompt plus completion). OpenAI
	// only has this one; for Anthropic it is used only when InputTokens and
	// OutputTokens are both zero, and is then reported as
	// anthropic-ratelimit-tokens-*. Generic has no tokens.
	Tokens Limit
	// InputTokens and OutputTokens are Anthropic's separate token buckets.
	InputTokens  Limit
	OutputTokens Limit
	// Concurrency is how many admitted requests may be in flight at once; 0
	// means no limit. Over it, a request gets 429 "Number of concurrent
	// connections has exceeded your rate limit...".
	Concurrency int
	// NoRateLimitHeaders omits every rate-limit header (the style's
	// *-limit, *-remaining, *-reset), while the limits are still enforced
	// with 429s and their Retry-After: an API that says its limits only
	// by refusing, as many do, for a client to learn them from 429s
	// alone.
	NoRateLimitHeaders bool

	// Latency is the time to first byte of an admitted request.
	Latency Latency
	// OutputRate is how many output tokens a second the model generates; it
	// paces bodies and streams. 0 means instant.
	OutputRate float64
	// Quota is how many tokens an OpenAI account may spend in all; once
	// used up, every request gets 429 insufficient_quota. 0 is unlimited.
	Quota int64

	// Fail is the fraction of admitted requests answered with a random
	// 500, 502 or 503 (or 529 overloaded_error, for Anthropic).
	Fail float64
	// Resets is the fraction of admitted requests whose connection is
	// closed without a response. Where the ResponseWriter cannot be
	// hijacked (httptest.ResponseRecorder) the handler panics with
	// http.ErrAbortHandler instead, which reaches a direct caller of
	// ServeHTTP.
	Resets float64
	// SlowBodies is the fraction of successful responses whose body is
	// dribbled out over one to two extra seconds.
	SlowBodies float64
	// Seed seeds the generator behind output lengths, texts, latencies and
	// faults; 0 picks a random seed. With a fixed seed, requests sent one at
	// a time get the same answers on every run.
	Seed int64
}

// validate reports the first field of c that makes no sense, as a
// *ConfigError naming it.
func (c *Config) validate() error {
	switch c.Style {
	case "":
		c.Style = Generic
	case Anthropic, OpenAI, Generic:
	default:
		return fieldErr("Style", "", "unknown style %q (want anthropic, openai or generic)", c.Style)
	}
	for _, l := range []struct {
		name string
		l    Limit
	}{
		{"Requests", c.Requests},
		{"Tokens", c.Tokens},
		{"InputTokens", c.InputTokens},
		{"OutputTokens", c.OutputTokens},
	} {
		if err := l.l.validate(); err != nil {
			return &ConfigError{Field: l.name, Err: err}
		}
	}
	if c.Concurrency < 0 {
		return fieldErr("Concurrency", "", "%d is negative", c.Concurrency)
	}
	if c.OutputRate < 0 || math.IsNaN(c.OutputRate) || math.IsInf(c.OutputRate, 0) {
		return fieldErr("OutputRate", "", "%v is not a finite rate of zero or more", c.OutputRate)
	}
	if c.Quota < 0 {
		return fieldErr("Quota", "", "%d is negative", c.Quota)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"Fail", c.Fail}, {"Resets", c.Resets}, {"SlowBodies", c.SlowBodies}} {
		if !(f.v >= 0 && f.v <= 1) {
			return fieldErr(f.name, "", "%v is not a fraction between 0 and 1", f.v)
		}
	}
	if c.Fail+c.Resets > 1 {
		return fieldErr("Fail", "Resets", "%v, with %v resets, is more than all requests", c.Fail, c.Resets)
	}
	return c.validateStyle()
}

// validateStyle refuses settings the chosen style has no use for, rather
// than ignoring them silently.
func (c *Config) validateStyle() error {
	unused := func(field string) error {
		return fieldErr(field, "", "not used by style %s", c.Style)
	}
	switch c.Style {
	case Anthropic:
		if c.Quota != 0 {
			return unused("Quota")
		}
	case OpenAI:
		if !c.InputTokens.IsZero() {
			return fieldErr("InputTokens", "Tokens", "style openai has one token limit")
		}
		if !c.OutputTokens.IsZero() {
			return fieldErr("OutputTokens", "Tokens", "style openai has one token limit")
		}
	case Generic:
		switch {
		case !c.Tokens.IsZero():
			return unused("Tokens")
		case !c.InputTokens.IsZero():
			return unused("InputTokens")
		case !c.OutputTokens.IsZero():
			return unused("OutputTokens")
		case c.Quota != 0:
			return unused("Quota")
		case c.OutputRate != 0:
			return unused("OutputRate")
		}
	}
	return nil
}

// ConfigError is a Config that makes no sense: the field at fault, and
// the field to set instead when there is one. A command maps the fields
// to its own flags.
type ConfigError struct {
	Field string // the Config field at fault, e.g. "OutputRate"
	Use   string // the field to set instead, or with Field; "" when none
	Err   error
}

func (e *ConfigError) Error() string {
	msg := "mock: " + e.Field + ": " + e.Err.Error()
	if e.Use != "" {
		msg += " (see " + e.Use + ")"
	}
	return msg
}

// Unwrap returns the reason.
func (e *ConfigError) Unwrap() error { return e.Err }

func fieldErr(field, use, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Use: use, Err: fmt.Errorf(format, args...)}
}
