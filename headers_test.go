package sluice

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// headerNow is the fixed "now" of the header tests.
var headerNow = time.Date(2026, 11, 22, 21, 0, 0, 0, time.UTC)

// hdr builds a header from name, value pairs, as a client would receive it.
func respHeader(kv ...string) http.Header {
	h := make(http.Header)
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// quota builds an expected Quota; remaining -1 means not said.
func wantQuota(limit, remaining int64, reset, window time.Duration) Quota {
	return Quota{Limit: limit, Remaining: remaining, Reset: reset, Window: window}
}

var unsaidQuotaWant = Quota{Remaining: -1}

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		name   string
		h      http.Header
		want   time.Duration
		wantOK bool
	}{
		{"absent", respHeader(), 0, false},
		{"seconds", respHeader("Retry-After", "30"), 30 * time.Second, true},
		{"fractional seconds", respHeader("Retry-After", "1.5"), 1500 * time.Millisecond, true},
		{"zero", respHeader("Retry-After", "0"), 0, true},
		{"spaces", respHeader("Retry-After", "  7 "), 7 * time.Second, true},
		{"lower-case name", respHeader("retry-after", "3"), 3 * time.Second, true},
		{"date in the future", respHeader("Retry-After", headerNow.Add(90*time.Second).Format(http.TimeFormat)), 90 * time.Second, true},
		{"date in the past", respHeader("Retry-After", headerNow.Add(-time.Hour).Format(http.TimeFormat)), 0, true},
		{"RFC 850 date", respHeader("Retry-After", headerNow.Add(time.Minute).Format("Monday, 02-Jan-06 15:04:05 GMT")), time.Minute, true},
		{"date far away is capped", respHeader("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"), 24 * time.Hour, true},
		{"huge seconds are capped", respHeader("Retry-After", "100000"), 24 * time.Hour, true},
		{"ms", respHeader("Retry-After-Ms", "250"), 250 * time.Millisecond, true},
		{"fractional ms", respHeader("retry-after-ms", "0.5"), 500 * time.Microsecond, true},
		{"ms beats seconds", respHeader("Retry-After-Ms", "250", "Retry-After", "30"), 250 * time.Millisecond, true},
		{"bad ms falls back to seconds", respHeader("Retry-After-Ms", "soon", "Retry-After", "2"), 2 * time.Second, true},
		{"huge ms are capped", respHeader("Retry-After-Ms", "1e300"), 24 * time.Hour, true},
		{"negative", respHeader("Retry-After", "-5"), 0, false},
		{"negative ms", respHeader("Retry-After-Ms", "-5"), 0, false},
		{"NaN", respHeader("Retry-After", "NaN"), 0, false},
		{"Inf", respHeader("Retry-After", "Inf"), 0, false},
		{"overflow", respHeader("Retry-After", "1e400"), 0, false},
		{"hexadecimal", respHeader("Retry-After", "0x10"), 0, false},
		{"garbage", respHeader("Retry-After", "tomorrow-ish"), 0, false},
		{"empty", respHeader("Retry-After", ""), 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.h, headerNow)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: ParseRetryAfter(%v) = %v, %v; want %v, %v", tt.name, tt.h, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestParseRateLimitHeadersAnthropic(t *testing.T) {
	h := respHeader(
		"Retry-After", "12",
		"anthropic-ratelimit-requests-limit", "50",
		"anthropic-ratelimit-requests-remaining", "49",
		"anthropic-ratelimit-requests-reset", "2026-11-22T21:00:30Z",
		"anthropic-ratelimit-tokens-limit", "90000",
		"anthropic-ratelimit-tokens-remaining", "0",
		"anthropic-ratelimit-tokens-reset", "2026-11-22T21:00:01.25Z",
		"anthropic-ratelimit-input-tokens-limit", "80000",
		"anthropic-ratelimit-input-tokens-remaining", "79000",
		"anthropic-ratelimit-input-tokens-reset", "2026-11-22T22:00:00+01:00", // now, in another zone
		"ANTHROPIC-RATELIMIT-OUTPUT-TOKENS-LIMIT", "16000",
		"Anthropic-Ratelimit-Output-Tokens-Remaining", "15999",
		"anthropic-ratelimit-output-tokens-reset", "2026-11-22T20:59:00Z", // past
	)
	got := ParseRateLimitHeaders(h, headerNow)
	want := RateLimitInfo{
		RetryAfter:    12 * time.Second,
		HasRetryAfter: true,
		Requests:      wantQuota(50, 49, 30*time.Second, time.Minute),
		Tokens:        wantQuota(90000, 0, 1250*time.Millisecond, time.Minute),
		InputTokens:   wantQuota(80000, 79000, 0, time.Minute),
		OutputTokens:  wantQuota(16000, 15999, 0, time.Minute),
	}
	if got != want {
		t.Errorf("ParseRateLimitHeaders(anthropic) =\n %+v\nwant\n %+v", got, want)
	}
}

func TestParseRateLimitHeadersOpenAI(t *testing.T) {
	h := respHeader(
		"x-ratelimit-limit-requests", "10000",
		"x-ratelimit-remaining-requests", "9999",
		"x-ratelimit-reset-requests", "6ms",
		"x-ratelimit-limit-tokens", "2000000",
		"x-ratelimit-remaining-tokens", "1999000",
		"x-ratelimit-reset-tokens", "6m0s",
		"retry-after-ms", "20",
	)
	got := ParseRateLimitHeaders(h, headerNow)
	want := RateLimitInfo{
		RetryAfter:    20 * time.Millisecond,
		HasRetryAfter: true,
		Requests:      wantQuota(10000, 9999, 6*time.Millisecond, time.Minute),
		Tokens:        wantQuota(2000000, 1999000, 6*time.Minute, time.Minute),
		InputTokens:   unsaidQuotaWant,
		OutputTokens:  unsaidQuotaWant,
	}
	if got != want {
		t.Errorf("ParseRateLimitHeaders(openai) =\n %+v\nwant\n %+v", got, want)
	}
}

func TestParseRateLimitHeadersOpenAIResets(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"6m0s", 6 * time.Minute},
		{"1s", time.Second},
		{"12ms", 12 * time.Millisecond},
		{"1h2m3.5s", time.Hour + 2*time.Minute + 3500*time.Millisecond},
		{"0s", 0},
		{"20ms", 20 * time.Millisecond},
		{"7.66s", 7660 * time.Millisecond},
		{"1m2.5s", time.Minute + 2500*time.Millisecond},
		{"30", 30 * time.Second}, // a bare number is seconds
		{"2.5", 2500 * time.Millisecond},
		{"25h", 24 * time.Hour}, // capped
		{"-1s", 0},
		{"soon", 0},
		{"1e400", 0},
	}
	for _, tt := range tests {
		h := respHeader("x-ratelimit-remaining-requests", "5", "x-ratelimit-reset-requests", tt.in)
		got := ParseRateLimitHeaders(h, headerNow).Requests
		want := wantQuota(0, 5, tt.want, 0)
		if got != want {
			t.Errorf("x-ratelimit-reset-requests %q: Requests = %+v, want %+v", tt.in, got, want)
		}
	}
}

func TestParseRateLimitHeadersIETF(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want Quota
	}{
		{"structured",
			respHeader("RateLimit-Policy", `"default";q=100;w=60`, "RateLimit", `"default";r=50;t=30`),
			wantQuota(100, 50, 30*time.Second, time.Minute)},
		{"structured, most restrictive policy and its item",
			respHeader("RateLimit-Policy", `"burst";q=100;w=1, "daily";q=1000;w=86400`,
				"RateLimit", `"burst";r=90;t=1, "daily";r=700;t=3600`),
			wantQuota(1000, 700, time.Hour, 24*time.Hour)},
		{"structured, policies on several lines",
			respHeader("RateLimit-Policy", `"burst";q=100;w=1`, "RateLimit-Policy", `"daily";q=1000;w=86400`),
			wantQuota(1000, -1, 0, 24*time.Hour)},
		{"structured, no policy: least remaining",
			respHeader("RateLimit", `"a";r=90;t=1, "b";r=7;t=20, "c";r=30;t=5`),
			wantQuota(0, 7, 20*time.Second, 0)},
		{"structured, named policy missing from RateLimit: least remaining",
			respHeader("RateLimit-Policy", `"x";q=10;w=1`, "RateLimit", `"a";r=9;t=1, "b";r=3;t=2`),
			wantQuota(10, 3, 2*time.Second, time.Second)},
		{"structured, token names and quoted commas",
			respHeader("RateLimit-Policy", `"a,b";q=10;w=1;qu="requests"`, "RateLimit", `"a,b";r=4;t=0.5`),
			wantQuota(10, 4, 500*time.Millisecond, time.Second)},
		{"structured, policies of other units are skipped",
			respHeader("RateLimit-Policy", `"bytes";q=1;w=60;qu="content-bytes", "req";q=600;w=60`),
			wantQuota(600, -1, 0, time.Minute)},
		{"structured, a policy without a window loses to one with",
			respHeader("RateLimit-Policy", `"nowin";q=1, "win";q=600;w=60`),
			wantQuota(600, -1, 0, time.Minute)},
		{"older policy",
			respHeader("RateLimit-Policy", "100;w=60", "RateLimit-Remaining", "50", "RateLimit-Reset", "30"),
			wantQuota(100, 50, 30*time.Second, time.Minute)},
		{"older policy list",
			respHeader("RateLimit-Policy", "10;w=1, 1000;w=3600"),
			wantQuota(1000, -1, 0, time.Hour)},
		{"older dictionary",
			respHeader("RateLimit", "limit=100, remaining=50, reset=30"),
			wantQuota(100, 50, 30*time.Second, 0)},
		{"older dictionary with policy",
			respHeader("RateLimit", "limit=100, remaining=50, reset=30", "RateLimit-Policy", "100;w=60"),
			wantQuota(100, 50, 30*time.Second, time.Minute)},
		{"separate headers",
			respHeader("RateLimit-Limit", "100", "RateLimit-Remaining", "50", "RateLimit-Reset", "30"),
			wantQuota(100, 50, 30*time.Second, 0)},
		{"separate headers, limit with policies",
			respHeader("RateLimit-Limit", "10, 10;w=1, 50;w=60", "RateLimit-Remaining", "9"),
			wantQuota(10, 9, 0, 0)},
		{"separate headers, first limit names its window",
			respHeader("RateLimit-Limit", "10;w=1, 50;w=60"),
			wantQuota(10, -1, 0, time.Second)},
		{"structured wins over separate",
			respHeader("RateLimit-Policy", `"p";q=100;w=60`, "RateLimit", `"p";r=50;t=30`,
				"RateLimit-Limit", "7", "RateLimit-Remaining", "6", "RateLimit-Reset", "5"),
			wantQuota(100, 50, 30*time.Second, time.Minute)},
		{"remaining above limit is clamped",
			respHeader("RateLimit-Policy", `"p";q=100;w=60`, "RateLimit", `"p";r=500;t=30`),
			wantQuota(100, 100, 30*time.Second, time.Minute)},
		{"absurd values are ignored",
			respHeader("RateLimit-Policy", `"p";q=-1;w=60, "q";q=NaN;w=1, "r";q=1e400;w=1, "s";q=5;w=-3`,
				"RateLimit", `"p";r=garbage;t=-1`),
			wantQuota(5, -1, 0, 0)},
	}
	for _, tt := range tests {
		got := ParseRateLimitHeaders(tt.h, headerNow).Requests
		if got != tt.want {
			t.Errorf("%s: Requests = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestParseRateLimitHeadersGeneric(t *testing.T) {
	unix := strconv.FormatInt(headerNow.Unix(), 10)
	tests := []struct {
		name string
		h    http.Header
		want Quota
	}{
		{"delta seconds",
			respHeader("X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "4999", "X-RateLimit-Reset", "60"),
			wantQuota(5000, 4999, time.Minute, 0)},
		{"epoch seconds",
			respHeader("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(headerNow.Unix()+120, 10)),
			wantQuota(60, 0, 2*time.Minute, 0)},
		{"fractional epoch seconds",
			respHeader("X-RateLimit-Reset", unix+".25", "X-RateLimit-Remaining", "1"),
			wantQuota(0, 1, 250*time.Millisecond, 0)},
		{"epoch milliseconds",
			respHeader("X-RateLimit-Reset", strconv.FormatInt(headerNow.UnixMilli()+1500, 10), "X-RateLimit-Remaining", "1"),
			wantQuota(0, 1, 1500*time.Millisecond, 0)},
		{"epoch in the past",
			respHeader("X-RateLimit-Reset", strconv.FormatInt(headerNow.Unix()-10, 10), "X-RateLimit-Remaining", "1"),
			wantQuota(0, 1, 0, 0)},
		{"epoch far away is capped",
			respHeader("X-RateLimit-Reset", "99999999999", "X-RateLimit-Remaining", "1"),
			wantQuota(0, 1, 24*time.Hour, 0)},
		{"beyond any epoch is ignored",
			respHeader("X-RateLimit-Reset", "1e16", "X-RateLimit-Remaining", "1"),
			wantQuota(0, 1, 0, 0)},
		{"date",
			respHeader("X-RateLimit-Reset", "2026-11-22T21:00:05Z", "X-RateLimit-Remaining", "1"),
			wantQuota(0, 1, 5*time.Second, 0)},
		{"reset-after",
			respHeader("X-RateLimit-Reset-After", "1.234", "X-RateLimit-Remaining", "1"),
			wantQuota(0, 1, 1234*time.Millisecond, 0)},
		{"reset-after beats reset",
			respHeader("X-RateLimit-Reset-After", "2", "X-RateLimit-Reset", unix+"9", "X-RateLimit-Remaining", "1"),
			wantQuota(0, 1, 2*time.Second, 0)},
		{"limit list: the first number",
			respHeader("X-RateLimit-Limit", "100, 100;w=60", "X-RateLimit-Remaining", "99"),
			wantQuota(100, 99, 0, 0)},
		{"limit with its window",
			respHeader("X-RateLimit-Limit", "100;w=60"),
			wantQuota(100, -1, 0, time.Minute)},
		{"remaining above limit is clamped",
			respHeader("X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "50"),
			wantQuota(10, 10, 0, 0)},
		{"largest count believed",
			respHeader("X-RateLimit-Limit", "1000000000000", "X-RateLimit-Remaining", "999999999999"),
			wantQuota(1e12, 1e12-1, 0, 0)},
		{"only a reset",
			respHeader("X-RateLimit-Reset", "9"),
			wantQuota(0, -1, 9*time.Second, 0)},
	}
	for _, tt := range tests {
		got := ParseRateLimitHeaders(tt.h, headerNow).Requests
		if got != tt.want {
			t.Errorf("%s: Requests = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestParseRateLimitHeadersIgnoresAbsurdValues(t *testing.T) {
	for _, v := range []string{"-1", "-0.5", "NaN", "nan", "Inf", "+Inf", "-Inf", "1e400",
		"garbage", "0x10", "1_000", "", " ", "12abc", "١٢", "\x00", "--5", "1e", "."} {
		h := respHeader(
			"X-RateLimit-Limit", v, "X-RateLimit-Remaining", v,
			"RateLimit-Limit", v, "RateLimit-Remaining", v, "RateLimit-Reset", v,
			"x-ratelimit-limit-requests", v, "x-ratelimit-remaining-requests", v,
			"anthropic-ratelimit-requests-limit", v, "anthropic-ratelimit-requests-remaining", v,
			"anthropic-ratelimit-requests-reset", v,
			"Retry-After", v, "Retry-After-Ms", v,
		)
		got := ParseRateLimitHeaders(h, headerNow)
		want := RateLimitInfo{Requests: unsaidQuotaWant, Tokens: unsaidQuotaWant, InputTokens: unsaidQuotaWant, OutputTokens: unsaidQuotaWant}
		if got != want {
			t.Errorf("headers all %q: got %+v, want nothing said", v, got)
		}
	}
	for _, v := range []string{"1e13", "1000000000001", "1e300"} {
		h := respHeader("X-RateLimit-Limit", v, "X-RateLimit-Remaining", v, "RateLimit", "limit="+v+", remaining="+v,
			"anthropic-ratelimit-tokens-limit", v, "x-ratelimit-remaining-tokens", v)
		got := ParseRateLimitHeaders(h, headerNow)
		if got.Requests != unsaidQuotaWant || got.Tokens != unsaidQuotaWant {
			t.Errorf("counts all %q: Requests = %+v, Tokens = %+v; want nothing said", v, got.Requests, got.Tokens)
		}
	}
	for _, v := range []string{"-30", "NaN", "1e400", "garbage", "-1s"} {
		h := respHeader("X-RateLimit-Reset", v, "X-RateLimit-Reset-After", v, "x-ratelimit-reset-requests", v)
		if got := ParseRateLimitHeaders(h, headerNow).Requests; got != unsaidQuotaWant {
			t.Errorf("resets all %q: Requests = %+v, want nothing said", v, got)
		}
	}
}

func TestParseRateLimitHeadersPrecedence(t *testing.T) {
	anthropic := []string{"anthropic-ratelimit-requests-limit", "1", "anthropic-ratelimit-requests-remaining", "1"}
	openAI := []string{"x-ratelimit-limit-requests", "2", "x-ratelimit-remaining-requests", "2"}
	ietf := []string{"RateLimit-Limit", "3", "RateLimit-Remaining", "3"}
	generic := []string{"X-RateLimit-Limit", "4", "X-RateLimit-Remaining", "4"}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name string
		kv   []string
		want int64
	}{
		{"all", cat(generic, ietf, openAI, anthropic), 1},
		{"no anthropic", cat(generic, ietf, openAI), 2},
		{"no anthropic or openai", cat(generic, ietf), 3},
		{"generic alone", generic, 4},
		{"anthropic beats generic", cat(generic, anthropic), 1},
		{"openai beats ietf", cat(ietf, openAI), 2},
	}
	for _, tt := range tests {
		got := ParseRateLimitHeaders(respHeader(tt.kv...), headerNow).Requests
		if got.Limit != tt.want || got.Remaining != tt.want {
			t.Errorf("%s: Requests = %+v, want limit and remaining %d", tt.name, got, tt.want)
		}
	}

	// Tokens: Anthropic before OpenAI.
	h := respHeader("anthropic-ratelimit-tokens-remaining", "10", "x-ratelimit-remaining-tokens", "20")
	if got := ParseRateLimitHeaders(h, headerNow).Tokens; got != wantQuota(0, 10, 0, 0) {
		t.Errorf("Tokens with both families = %+v, want Anthropic's", got)
	}
	h = respHeader("x-ratelimit-remaining-tokens", "20")
	if got := ParseRateLimitHeaders(h, headerNow).Tokens; got != wantQuota(0, 20, 0, 0) {
		t.Errorf("Tokens from OpenAI = %+v, want remaining 20", got)
	}
}

func TestParseRateLimitHeadersEmpty(t *testing.T) {
	want := RateLimitInfo{Requests: unsaidQuotaWant, Tokens: unsaidQuotaWant, InputTokens: unsaidQuotaWant, OutputTokens: unsaidQuotaWant}
	for _, h := range []http.Header{nil, {}, respHeader("Content-Type", "application/json")} {
		if got := ParseRateLimitHeaders(h, headerNow); got != want {
			t.Errorf("ParseRateLimitHeaders(%v) = %+v, want nothing said", h, got)
		}
	}
	if (Quota{}).Known() != true || unsaidQuotaWant.Known() || !wantQuota(5, -1, 0, 0).Known() {
		t.Errorf("Known: zero Quota says 0 remaining (known), unsaidQuotaWant is unknown, a limit is known")
	}
}

func FuzzParseRateLimitHeaders(f *testing.F) {
	f.Add("100", "50", "30", "1.5", `"default";q=100;w=60`, `"default";r=50;t=30`)
	f.Add("50", "49", "2026-11-22T21:00:30Z", "Fri, 31 Dec 9999 23:59:59 GMT", "100;w=60", "limit=100, remaining=50, reset=30")
	f.Add("1e12", "1e13", "6m0s", "-1", `"a,b";q=1;w=0`, `"a";r=1e400;t=NaN`)
	f.Add("NaN", "-5", "1799999999999", "1e400", `"x";q=5;w=1e30, 7`, `"x";r=9999999999999;t=99999999`)
	f.Add("100, 100;w=60", "7", "1h2m3.5s", "250", `;;,,"`, `"\";r=1`)
	f.Fuzz(func(t *testing.T, limit, remaining, reset, retry, policy, rateLimit string) {
		h := respHeader(
			"Retry-After", retry, "Retry-After-Ms", retry,
			"RateLimit-Policy", policy, "RateLimit", rateLimit,
			"RateLimit-Limit", limit, "RateLimit-Remaining", remaining, "RateLimit-Reset", reset,
			"X-RateLimit-Limit", limit, "X-RateLimit-Remaining", remaining, "X-RateLimit-Reset", reset,
			"X-RateLimit-Reset-After", reset,
		)
		for _, kind := range []string{"requests", "tokens", "input-tokens", "output-tokens"} {
			h.Set("anthropic-ratelimit-"+kind+"-limit", limit)
			h.Set("anthropic-ratelimit-"+kind+"-remaining", remaining)
			h.Set("anthropic-ratelimit-"+kind+"-reset", reset)
			h.Set("x-ratelimit-limit-"+kind, limit)
			h.Set("x-ratelimit-remaining-"+kind, remaining)
			h.Set("x-ratelimit-reset-"+kind, reset)
		}
		// Each family alone too, so that precedence does not hide one.
		infos := []RateLimitInfo{ParseRateLimitHeaders(h, headerNow)}
		for _, only := range []string{"Anthropic-", "X-Ratelimit-", "Ratelimit"} {
			part := make(http.Header)
			for k, v := range h {
				if len(k) >= len(only) && k[:len(only)] == only {
					part[k] = v
				}
			}
			infos = append(infos, ParseRateLimitHeaders(part, headerNow))
		}
		for _, info := range infos {
			if info.RetryAfter < 0 || info.RetryAfter > 24*time.Hour || (!info.HasRetryAfter && info.RetryAfter != 0) {
				t.Fatalf("RetryAfter = %v, %v", info.RetryAfter, info.HasRetryAfter)
			}
			for _, q := range []Quota{info.Requests, info.Tokens, info.InputTokens, info.OutputTokens} {
				switch {
				case q.Limit < 0 || q.Limit > 1e12:
					t.Fatalf("%+v: Limit out of range", q)
				case q.Remaining < -1 || q.Remaining > 1e12:
					t.Fatalf("%+v: Remaining out of range", q)
				case q.Reset < 0 || q.Reset > 24*time.Hour:
					t.Fatalf("%+v: Reset out of range", q)
				case q.Window < 0:
					t.Fatalf("%+v: negative Window", q)
				case q.Limit > 0 && q.Remaining > q.Limit:
					t.Fatalf("%+v: Remaining above Limit", q)
				}
			}
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"30", "1.5", "0", "-1", "NaN", "1e400", "Fri, 31 Dec 9999 23:59:59 GMT",
		"Sun, 22 Nov 2026 21:01:00 GMT", "Monday, 02-Jan-06 15:04:05 GMT", "Mon Jan  2 15:04:05 2006", "1e-400", "5e-3"} {
		f.Add(s, "")
		f.Add("", s)
	}
	f.Fuzz(func(t *testing.T, seconds, ms string) {
		h := respHeader("Retry-After", seconds, "Retry-After-Ms", ms)
		d, ok := ParseRetryAfter(h, headerNow)
		if d < 0 || d > 24*time.Hour || (!ok && d != 0) {
			t.Fatalf("ParseRetryAfter(%q, %q) = %v, %v", seconds, ms, d, ok)
		}
		if n, err := strconv.ParseUint(seconds, 10, 64); err == nil && ms == "" && n <= 86400 && seconds[0] != '+' {
			if !ok || d != time.Duration(n)*time.Second {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %ds", seconds, d, ok, n)
			}
		}
	})
}

// Found by FuzzParseRateLimitHeaders: the token quotas that have a single
// family were returned unclamped.
func TestParseRateLimitHeadersClampsEveryQuota(t *testing.T) {
	h := respHeader()
	for _, kind := range []string{"requests", "tokens", "input-tokens", "output-tokens"} {
		h.Set("anthropic-ratelimit-"+kind+"-limit", "1")
		h.Set("anthropic-ratelimit-"+kind+"-remaining", "2")
	}
	got := ParseRateLimitHeaders(h, headerNow)
	want := wantQuota(1, 1, 0, time.Minute)
	for name, q := range map[string]Quota{"Requests": got.Requests, "Tokens": got.Tokens, "InputTokens": got.InputTokens, "OutputTokens": got.OutputTokens} {
		if q != want {
			t.Errorf("%s = %+v, want %+v", name, q, want)
		}
	}
}

func TestHeaderNamesAreCanonical(t *testing.T) {
	for _, names := range quotaHeaderNames {
		for _, n := range append(names.anthropic[:], names.openAI[:]...) {
			if n != http.CanonicalHeaderKey(n) {
				t.Errorf("%q is not canonical (%q): headerValue would miss it", n, http.CanonicalHeaderKey(n))
			}
		}
	}
	for _, n := range []string{"Retry-After-Ms", "Retry-After", "Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset", "X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset-After", "X-Ratelimit-Reset", "Ratelimit", "Ratelimit-Policy"} {
		if n != http.CanonicalHeaderKey(n) {
			t.Errorf("%q is not canonical", n)
		}
	}
}

// FuzzLearnFromHeaders runs what the network says through the whole road:
// parse the headers, learn from them (after a call and before one ends, as
// the transport does on a 2xx), then admit a few calls. No value may panic
// or hang the gate.
func FuzzLearnFromHeaders(f *testing.F) {
	f.Add("2147483647", "2147483647", "1", "1", uint8(0))
	f.Add("100000000000", "100000000000", "0.001", "1ms", uint8(1))
	f.Add("1e12", "1e12", "1e-9", "1ns", uint8(2))
	f.Add("1", "0", "86400", "24h", uint8(3))
	f.Add("1", "1", "99999999999", "9999h", uint8(4))
	f.Add("100", "50", "30", "6m0s", uint8(5))
	f.Fuzz(func(t *testing.T, limit, remaining, reset, openAIReset string, class uint8) {
		h := respHeader(
			"X-RateLimit-Limit", limit, "X-RateLimit-Remaining", remaining, "X-RateLimit-Reset", reset,
			"RateLimit-Policy", limit+";w="+reset, "Retry-After", reset,
		)
		for _, kind := range []string{"requests", "tokens", "input-tokens", "output-tokens"} {
			h.Set("anthropic-ratelimit-"+kind+"-limit", limit)
			h.Set("anthropic-ratelimit-"+kind+"-remaining", remaining)
			h.Set("x-ratelimit-limit-"+kind, limit)
			h.Set("x-ratelimit-remaining-"+kind, remaining)
			h.Set("x-ratelimit-reset-"+kind, openAIReset)
		}
		infos := []RateLimitInfo{ParseRateLimitHeaders(h, headerNow)}
		for _, only := range []string{"Anthropic-", "X-Ratelimit-", "Ratelimit"} {
			part := make(http.Header)
			for k, v := range h {
				if strings.HasPrefix(k, only) {
					part[k] = v
				}
			}
			infos = append(infos, ParseRateLimitHeaders(part, headerNow))
		}
		o := Outcome{Class: Class(class % 8)}
		for _, info := range infos {
			synctest.Test(t, func(t *testing.T) {
				for _, g := range []*Gate{NewGate(), Limits{Rate: PerSecond(100), Tokens: PerMinute(1e6)}.NewGate()} {
					c := Cost{InputTokens: 1000, OutputTokens: 1000}
					p, err := g.Acquire(t.Context(), c)
					if err != nil {
						t.Fatal(err)
					}
					o.RateLimit = &info
					g.learnWhileInFlight(o) // the transport's 2xx path
					p.Done(o)
					for range 3 {
						ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
						if p, err := g.Acquire(ctx, c); err == nil {
							p.Done(o)
						}
						cancel()
					}
				}
			})
		}
	})
}
