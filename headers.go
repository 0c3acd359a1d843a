package sluice

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// What the parsers below will believe. A header is written by a server we do
// not control and read by a gate that will pause every worker on its word,
// so a value outside these bounds is a bug or an attack, not a limit: counts
// above maxHeaderCount are ignored, and waits are capped at maxHeaderWait so
// that one bad header cannot stop a run for a year.
const (
	maxHeaderCount = 1e12
	maxHeaderWait  = 24 * time.Hour
	// maxHeaderWindow bounds a policy's window. Monthly quotas are real;
	// a window of centuries would overflow a Duration.
	maxHeaderWindow = 366 * 24 * time.Hour
)

// Quota is what an API said about one of its limits in a response. A field
// the response did not mention keeps the value its comment gives; the zero
// Quota is not "nothing said" (it says zero remaining), so build an empty
// one with Remaining -1.
type Quota struct {
	Limit     int64         // units per window; 0 when not said
	Remaining int64         // units left; -1 when not said
	Reset     time.Duration // from the response until the limit is replenished; 0 when not said
	Window    time.Duration // the limit's window when the API names it (IETF policy w=); 0 when not said

	// resetGrain is how finely Reset was written (1s for "…T21:00:30Z",
	// 1ms for "0.900s"), set only when Window is the minute Anthropic's
	// and OpenAI's headers imply and Reset refutes it (refuteMinute);
	// zero otherwise, so that Quotas compare by what the API said.
	resetGrain time.Duration
	// seen is set by a Gate learning from q: the longest reset it saw
	// refute the minute (learn.go).
	seen time.Duration
}

// Known reports whether the response said the limit or what remains of it.
func (q Quota) Known() bool { return q.Limit > 0 || q.Remaining >= 0 }

// unsaidQuota returns the Quota of a response that says nothing.
func unsaidQuota() Quota { return Quota{Remaining: -1} }

// said reports whether q holds anything at all, a reset included.
func (q Quota) said() bool { return q.Known() || q.Reset > 0 }

// clamp makes q consistent: what remains cannot exceed the limit.
func (q Quota) clamp() Quota {
	if q.Limit > 0 && q.Remaining > q.Limit {
		q.Remaining = q.Limit
	}
	return q
}

// RateLimitInfo is everything a response's headers say about rate limits.
// Quotas the response did not mention have Remaining -1 (see Quota). It is a
// plain value.
type RateLimitInfo struct {
	RetryAfter    time.Duration // 0 with HasRetryAfter false when absent
	HasRetryAfter bool

	// Requests counts calls; Tokens, InputTokens and OutputTokens count
	// LLM tokens (all tokens, prompt tokens, completion tokens).
	Requests, Tokens, InputTokens, OutputTokens Quota
}

// ParseRateLimitHeaders reads the rate-limit headers of a response received
// at now: Retry-After (see ParseRetryAfter), Anthropic's
// anthropic-ratelimit-*, OpenAI's x-ratelimit-*-{requests,tokens}, the IETF
// drafts' RateLimit-Policy and RateLimit (structured and older forms) and
// RateLimit-Limit/-Remaining/-Reset, and the generic
// X-RateLimit-Limit/-Remaining/-Reset(-After). When several of these
// describe the request limit, Anthropic's win, then OpenAI's, then the
// IETF's, then the generic ones.
//
// It never fails: a value that is unparseable, negative, not finite or
// absurdly large is treated as absent; resets in the past are 0; waits are
// capped at 24 hours; Remaining is clamped to Limit.
func ParseRateLimitHeaders(h http.Header, now time.Time) RateLimitInfo {
	if !mayLimit(h) {
		return unsaidInfo()
	}
	return parseRateLimitHeaders(h, now)
}

// unsaidInfo returns the RateLimitInfo of a response that says nothing.
func unsaidInfo() RateLimitInfo {
	return RateLimitInfo{
		Requests:     unsaidQuota(),
		Tokens:       unsaidQuota(),
		InputTokens:  unsaidQuota(),
		OutputTokens: unsaidQuota(),
	}
}

// parseRateLimitHeaders is ParseRateLimitHeaders for headers mayLimit
// passed: the Transport asks mayLimit first, before it reads the clock,
// and need not ask twice.
func parseRateLimitHeaders(h http.Header, now time.Time) RateLimitInfo {
	info := unsaidInfo()
	info.RetryAfter, info.HasRetryAfter = ParseRetryAfter(h, now)
	info.Requests = firstSaid(
		anthropicQuota(h, "requests", now),
		openAIQuota(h, "requests"),
		ietfQuota(h, now),
		genericQuota(h, now),
	)
	info.Tokens = firstSaid(anthropicQuota(h, "tokens", now), openAIQuota(h, "tokens"))
	info.InputTokens = anthropicQuota(h, "input-tokens", now)
	info.OutputTokens = anthropicQuota(h, "output-tokens", now)
	return info
}

// firstSaid returns the first of qs that says anything.
func firstSaid(qs ...Quota) Quota {
	for _, q := range qs {
		if q.said() {
			return q
		}
	}
	return unsaidQuota()
}

// ParseRetryAfter reads how long a response asks the client to wait:
// retry-after-ms (milliseconds, possibly fractional) when present and valid,
// else Retry-After as delta seconds (fractions accepted) or an HTTP date
// relative to now. A date in the past gives 0 and true. The wait is capped
// at 24 hours; an absent or unparseable header gives 0 and false.
func ParseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := headerValue(h, "Retry-After-Ms"); v != "" {
		if ms, ok := parseDecimal(v); ok {
			return cappedWait(ms / 1e3), true
		}
	}
	v := strings.TrimSpace(headerValue(h, "Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, ok := parseDecimal(v); ok {
		return cappedWait(secs), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return until(t, now), true
	}
	return 0, false
}

// quotaHeaderNames holds, for each kind of quota, the limit, remaining and
// reset header names of Anthropic and OpenAI, canonical so that Header.Get
// need not build them on every response.
var quotaHeaderNames = func() map[string]struct{ anthropic, openAI [3]string } {
	m := make(map[string]struct{ anthropic, openAI [3]string })
	for _, kind := range []string{"requests", "tokens", "input-tokens", "output-tokens"} {
		var n struct{ anthropic, openAI [3]string }
		for i, field := range []string{"limit", "remaining", "reset"} {
			n.anthropic[i] = http.CanonicalHeaderKey("anthropic-ratelimit-" + kind + "-" + field)
			n.openAI[i] = http.CanonicalHeaderKey("x-ratelimit-" + field + "-" + kind)
		}
		m[kind] = n
	}
	return m
}()

// anthropicQuota reads anthropic-ratelimit-KIND-{limit,remaining,reset}.
// Anthropic's limits are per minute and its resets are RFC 3339 times.
func anthropicQuota(h http.Header, kind string, now time.Time) Quota {
	names := quotaHeaderNames[kind].anthropic
	q := unsaidQuota()
	q.Limit, _ = parseCount(headerValue(h, names[0]))
	if n, ok := parseCount(headerValue(h, names[1])); ok {
		q.Remaining = n
	}
	grain := time.Duration(0)
	if v := strings.TrimSpace(headerValue(h, names[2])); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			q.Reset, grain = until(t, now), decimalGrain(v, time.Second)
		} else if secs, ok := parseDecimal(v); ok {
			q.Reset, grain = cappedWait(secs), decimalGrain(v, time.Second)
		}
	}
	if q.Limit > 0 {
		q.Window = time.Minute
	}
	return q.clamp().refuteMinute(grain)
}

// openAIQuota reads x-ratelimit-{limit,remaining,reset}-KIND. OpenAI's
// limits are per minute and its resets are Go durations ("6m0s", "12ms").
func openAIQuota(h http.Header, kind string) Quota {
	names := quotaHeaderNames[kind].openAI
	q := unsaidQuota()
	q.Limit, _ = parseCount(headerValue(h, names[0]))
	if n, ok := parseCount(headerValue(h, names[1])); ok {
		q.Remaining = n
	}
	grain := time.Duration(0)
	if v := strings.TrimSpace(headerValue(h, names[2])); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			q.Reset, grain = min(d, maxHeaderWait), durationGrain(v)
		} else if secs, ok := parseDecimal(v); ok {
			q.Reset, grain = cappedWait(secs), decimalGrain(v, time.Second)
		}
	}
	if q.Limit > 0 {
		q.Window = time.Minute
	}
	return q.clamp().refuteMinute(grain)
}

// ietfQuota reads the IETF drafts' headers (draft-ietf-httpapi-ratelimit-
// headers), newest form first:
//
//	RateLimit-Policy: "default";q=100;w=60    RateLimit: "default";r=50;t=30
//	RateLimit-Policy: 100;w=60                RateLimit: limit=100, remaining=50, reset=30
//	RateLimit-Limit: 100    RateLimit-Remaining: 50    RateLimit-Reset: 30
//
// A later form only fills what an earlier one left unsaid.
func ietfQuota(h http.Header, now time.Time) Quota {
	q := unsaidQuota()
	resetSaid := false
	policy, ok := mostRestrictivePolicy(strings.Join(h["Ratelimit-Policy"], ","))
	if ok {
		q.Limit, q.Window = policy.quota, policy.window
	}
	if v := strings.Join(h["Ratelimit"], ","); v != "" {
		r := readRateLimitField(v, policy.name)
		if q.Limit == 0 && r.limit > 0 {
			q.Limit = r.limit
		}
		if r.remaining >= 0 {
			q.Remaining = r.remaining
		}
		if r.resetSaid {
			q.Reset, resetSaid = r.reset, true
		}
	}
	if q.Limit == 0 {
		if it, ok := firstItem(headerValue(h, "Ratelimit-Limit")); ok {
			q.Limit, _ = parseCount(it.value)
			if q.Window == 0 {
				q.Window = it.window()
			}
		}
	}
	if q.Remaining < 0 {
		if it, ok := firstItem(headerValue(h, "Ratelimit-Remaining")); ok {
			if n, ok := parseCount(it.value); ok {
				q.Remaining = n
			}
		}
	}
	if v := strings.TrimSpace(headerValue(h, "Ratelimit-Reset")); v != "" && !resetSaid {
		// The drafts say delta seconds; some gateways send a Unix time.
		q.Reset = parseGenericReset(v, now)
	}
	return q.clamp()
}

// genericQuota reads X-RateLimit-Limit, -Remaining, -Reset and -Reset-After,
// the de facto headers of GitHub, Discord, Twitter and many others. Reset is
// delta seconds, or a Unix time in seconds (above 1e9) or milliseconds
// (above 1e12); Reset-After is delta seconds and, being immune to clock
// skew, wins over Reset.
func genericQuota(h http.Header, now time.Time) Quota {
	q := unsaidQuota()
	if it, ok := firstItem(headerValue(h, "X-Ratelimit-Limit")); ok {
		q.Limit, _ = parseCount(it.value)
		if q.Limit > 0 {
			q.Window = it.window()
		}
	}
	if it, ok := firstItem(headerValue(h, "X-Ratelimit-Remaining")); ok {
		if n, ok := parseCount(it.value); ok {
			q.Remaining = n
		}
	}
	if secs, ok := parseDecimal(headerValue(h, "X-Ratelimit-Reset-After")); ok {
		q.Reset = cappedWait(secs)
	} else if v := strings.TrimSpace(headerValue(h, "X-Ratelimit-Reset")); v != "" {
		q.Reset = parseGenericReset(v, now)
	}
	return q.clamp()
}

// parseGenericReset reads an X-RateLimit-Reset value: delta seconds, Unix
// seconds, Unix milliseconds, or (rarely) a date.
func parseGenericReset(v string, now time.Time) time.Duration {
	n, ok := parseDecimal(v)
	switch {
	case !ok:
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return until(t, now)
		}
		if t, err := http.ParseTime(v); err == nil {
			return until(t, now)
		}
		return 0
	case n > 1e15:
		return 0 // not a time of this millennium in any unit
	case n > 1e12:
		return until(unixSeconds(n/1e3), now)
	case n > 1e9:
		return until(unixSeconds(n), now)
	}
	return cappedWait(n)
}

// unixSeconds returns the time s seconds after the Unix epoch; 0 <= s <= 1e12.
func unixSeconds(s float64) time.Time {
	whole := math.Floor(s)
	return time.Unix(int64(whole), int64((s-whole)*1e9))
}

// until returns how long from now until t, 0 if t is past, capped.
func until(t, now time.Time) time.Duration {
	return max(0, min(t.Sub(now), maxHeaderWait))
}

// cappedWait converts a non-negative, finite number of seconds to a
// Duration no longer than maxHeaderWait.
func cappedWait(secs float64) time.Duration {
	if secs >= maxHeaderWait.Seconds() {
		return maxHeaderWait
	}
	return time.Duration(math.Round(secs * 1e9))
}

// parseDecimal reads a plain non-negative decimal number ("30", "1.5",
// "250", "1e3"). It refuses what strconv.ParseFloat would also accept but no
// server means: signs, "NaN", "Inf", hexadecimal, underscores, and values
// that overflow.
func parseDecimal(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	// Leading zeros say nothing ("000…030" is a valid Retry-After of 30
	// seconds), so they do not count against the length bound.
	for len(s) > 1 && s[0] == '0' && s[1] >= '0' && s[1] <= '9' {
		s = s[1:]
	}
	if s == "" || len(s) > 64 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && c != '.' && c != 'e' && c != 'E' && !(i > 0 && (c == '+' || c == '-') && (s[i-1] == 'e' || s[i-1] == 'E')) {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, false
	}
	return f, true
}

// parseCount reads a count of units: a non-negative number no larger than
// maxHeaderCount, truncated to an integer.
func parseCount(s string) (int64, bool) {
	f, ok := parseDecimal(s)
	if !ok || f > maxHeaderCount {
		return 0, false
	}
	return int64(f), true
}

// parseWindow reads a window in seconds, refusing zero and the absurd.
func parseWindow(s string) time.Duration {
	secs, ok := parseDecimal(s)
	if !ok || secs <= 0 || secs > maxHeaderWindow.Seconds() {
		return 0
	}
	return time.Duration(math.Round(secs * 1e9))
}

// An sfItem is one member of a comma-separated header in the style of the
// IETF drafts: a value (a quoted name, a token or a number) followed by
// ;key=value parameters, or, in the older dictionary form, a key=value pair
// (then key is set and value is the pair's value).
type sfItem struct {
	key    string
	value  string
	params map[string]string
}

// window returns the item's w parameter as a Duration, or 0.
func (it sfItem) window() time.Duration { return parseWindow(it.params["w"]) }

// parseItems splits a header into items, leaving commas and semicolons
// inside quoted strings alone. Keys are lower-cased, quotes removed.
func parseItems(v string) []sfItem {
	var items []sfItem
	for _, member := range splitUnquoted(v, ',') {
		parts := splitUnquoted(member, ';')
		first := strings.TrimSpace(parts[0])
		if first == "" {
			continue
		}
		var it sfItem
		if k, val, ok := strings.Cut(first, "="); ok && !strings.HasPrefix(first, `"`) {
			it.key, it.value = strings.ToLower(strings.TrimSpace(k)), unquote(val)
		} else {
			it.value = unquote(first)
		}
		for _, p := range parts[1:] {
			k, val, _ := strings.Cut(p, "=")
			if k = strings.ToLower(strings.TrimSpace(k)); k != "" {
				if it.params == nil {
					it.params = make(map[string]string)
				}
				it.params[k] = unquote(val)
			}
		}
		items = append(items, it)
	}
	return items
}

// firstItem returns the first item of v, for headers such as
// "X-RateLimit-Limit: 100, 100;w=60" whose first member is the one in force.
func firstItem(v string) (sfItem, bool) {
	if strings.TrimSpace(v) == "" {
		return sfItem{}, false
	}
	items := parseItems(v)
	if len(items) == 0 || items[0].key != "" {
		return sfItem{}, false
	}
	return items[0], true
}

// splitUnquoted splits s at each sep outside double quotes. It always
// returns at least one element.
func splitUnquoted(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++ // skip the escaped byte
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unquote trims s and removes the double quotes of a quoted string.
func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
		return s[1 : len(s)-1]
	}
	return s
}

// ietfPolicy is one quota policy named in a RateLimit-Policy header.
type ietfPolicy struct {
	name   string
	quota  int64
	window time.Duration
}

// mostRestrictivePolicy reads a RateLimit-Policy header, structured
// (`"default";q=100;w=60`) or older (`100;w=60`), and returns the policy
// allowing the fewest units per second: it is the one a client running flat
// out will hit first. Policies that count something other than requests
// (qu="content-bytes") are skipped, and a policy without a window is only
// chosen when none has one.
func mostRestrictivePolicy(v string) (ietfPolicy, bool) {
	var best ietfPolicy
	found := false
	for _, it := range parseItems(v) {
		if it.key != "" {
			continue
		}
		if u, ok := it.params["qu"]; ok && u != "requests" {
			continue
		}
		p := ietfPolicy{window: it.window()}
		if q, ok := it.params["q"]; ok {
			p.name = it.value
			p.quota, _ = parseCount(q)
		} else {
			p.quota, _ = parseCount(it.value)
		}
		if p.quota <= 0 {
			continue
		}
		if !found || stricterPolicy(p, best) {
			best, found = p, true
		}
	}
	return best, found
}

// stricterPolicy reports whether a allows fewer units per second than b.
func stricterPolicy(a, b ietfPolicy) bool {
	switch {
	case a.window > 0 && b.window > 0:
		return float64(a.quota)/a.window.Seconds() < float64(b.quota)/b.window.Seconds()
	case a.window > 0 || b.window > 0:
		return a.window > 0
	}
	return a.quota < b.quota
}

// rateLimitField is what a RateLimit header says.
type rateLimitField struct {
	limit, remaining int64
	reset            time.Duration
	resetSaid        bool
}

// readRateLimitField reads a RateLimit header, structured
// (`"default";r=50;t=30`, one item per policy: the item of the named policy,
// else the one with the least remaining) or older
// (`limit=100, remaining=50, reset=30`).
func readRateLimitField(v, policy string) rateLimitField {
	f := rateLimitField{remaining: -1}
	var chosen sfItem
	chosenR := int64(-1)
	for _, it := range parseItems(v) {
		switch it.key {
		case "limit":
			f.limit, _ = parseCount(it.value)
		case "remaining":
			if n, ok := parseCount(it.value); ok {
				f.remaining = n
			}
		case "reset":
			if secs, ok := parseDecimal(it.value); ok {
				f.reset, f.resetSaid = cappedWait(secs), true
			}
		case "":
			r, ok := parseCount(it.params["r"])
			if !ok || (chosenR >= 0 && policy != "" && chosen.value == policy) {
				continue
			}
			if chosenR < 0 || r < chosenR || (policy != "" && it.value == policy) {
				chosen, chosenR = it, r
			}
		}
	}
	if chosenR >= 0 {
		f.remaining = chosenR
		if secs, ok := parseDecimal(chosen.params["t"]); ok {
			f.reset, f.resetSaid = cappedWait(secs), true
		}
	}
	return f
}

// mayLimit reports whether h has any header the parsers in this file read
// (readHeader): one pass over a response's few headers, which spares the
// two dozen look-ups when an API sends none.
func mayLimit(h http.Header) bool {
	for k := range h {
		if readHeader(k) {
			return true
		}
	}
	return false
}

// readHeader reports whether the parsers read the header named k: exactly
// the names of rateLimitHeaderNames, no more, so that a response with only
// headers nobody reads (GitHub's X-RateLimit-Used, say) costs no parsing.
// Every such name is 9 bytes or longer and starts with R, X or A, and the
// X and A ones with X-Ratelimit- and Anthropic-Ratelimit-: a response's
// usual headers (Content-Type, Date, X-Request-Id) are told apart by a
// byte or a prefix, where the look-up hashes the name, and on a busy
// Transport mayLimit runs on most responses.
func readHeader(k string) bool {
	if len(k) < len("Ratelimit") {
		return false
	}
	switch k[0] {
	case 'R':
		return rateLimitHeaderNames[k]
	case 'X':
		return strings.HasPrefix(k, "X-Ratelimit-") && rateLimitHeaderNames[k]
	case 'A':
		return strings.HasPrefix(k, "Anthropic-Ratelimit-") && rateLimitHeaderNames[k]
	}
	return false
}

// rateLimitHeaderNames holds every header name the parsers in this file
// read, canonical: Anthropic's and OpenAI's (quotaHeaderNames), the
// Retry-After pair, the IETF drafts' and the generic X-RateLimit ones. A
// parser that reads a new name must add it here, or mayLimit would skip
// responses that carry only that name (TestRateLimitHeaderNamesAreRead
// reads the names out of this file's source to hold the two together).
var rateLimitHeaderNames = func() map[string]bool {
	m := make(map[string]bool)
	for _, n := range []string{
		"Retry-After", "Retry-After-Ms",
		"Ratelimit-Policy", "Ratelimit", "Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset",
		"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset", "X-Ratelimit-Reset-After",
	} {
		m[n] = true
	}
	for _, names := range quotaHeaderNames {
		for _, n := range append(names.anthropic[:], names.openAI[:]...) {
			m[n] = true
		}
	}
	return m
}()

// headerValue is h.Get for a name already in canonical form, as every name
// here is: a map lookup, without canonicalising the name on every response
// (which cost more than the parsing on a busy Transport).
func headerValue(h http.Header, canonical string) string {
	if v := h[canonical]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// said reports whether the headers said anything about limits.
func (i RateLimitInfo) said() bool {
	return i.HasRetryAfter || i.Requests.Known() || i.Tokens.Known() || i.InputTokens.Known() || i.OutputTokens.Known() ||
		i.Requests.Reset > 0 || i.Tokens.Reset > 0 || i.InputTokens.Reset > 0 || i.OutputTokens.Reset > 0
}
