package sluice

import (
	"testing"
	"time"
)

func TestResetGrain(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"2026-11-22T21:00:30Z", time.Second},
		{"2026-11-22T21:00:30.1Z", 100 * time.Millisecond},
		{"2026-11-22T21:00:30.123Z", time.Millisecond},
		{"2026-11-22T21:00:30.123456+01:00", time.Microsecond},
		{"2026-11-22T21:00:30.123456789123Z", time.Nanosecond},
		{"30", time.Second},
		{"0.9", 100 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := decimalGrain(tt.in, time.Second); got != tt.want {
			t.Errorf("decimalGrain(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	durations := []struct {
		in   string
		want time.Duration
	}{
		{"6m0s", time.Second},
		{"1s", time.Second},
		{"20ms", time.Millisecond},
		{"7.66s", 10 * time.Millisecond},
		{"0.900s", time.Millisecond},
		{"1m2.5s", 100 * time.Millisecond},
		{"2h", time.Hour},
		{"5m", time.Minute},
		{"3us", time.Microsecond},
		{"3µs", time.Microsecond},
		{"12ns", time.Nanosecond},
	}
	for _, tt := range durations {
		if got := durationGrain(tt.in); got != tt.want {
			t.Errorf("durationGrain(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// Which of Anthropic's and OpenAI's resets refute the minute their headers
// imply: only one sooner, by more than it was rounded to, than a bucket
// refilling over a minute could regain what was used. Real per-minute
// headers (the first rows) are read as they always were.
func TestParseRateLimitHeadersRefutesTheMinuteOnlyByASoonerReset(t *testing.T) {
	at := func(d time.Duration, layout string) string { return headerNow.Add(d).Format(layout) }
	const ms, s = "2006-01-02T15:04:05.000Z07:00", time.RFC3339
	tests := []struct {
		name    string
		headers []string
		want    time.Duration // resetGrain; 0: the minute stands
	}{
		{"anthropic, a minute's bucket", []string{"anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "49",
			"anthropic-ratelimit-requests-reset", at(1200*time.Millisecond, ms)}, 0},
		{"anthropic, whole seconds round the bucket's reset down", []string{"anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "49",
			"anthropic-ratelimit-requests-reset", at(time.Second, s)}, 0},
		{"anthropic, a later reset", []string{"anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "49",
			"anthropic-ratelimit-requests-reset", at(30*time.Second, s)}, 0},
		{"anthropic, nothing remaining", []string{"anthropic-ratelimit-requests-limit", "10", "anthropic-ratelimit-requests-remaining", "0",
			"anthropic-ratelimit-requests-reset", at(800*time.Millisecond, ms)}, 0},
		{"anthropic, nothing used", []string{"anthropic-ratelimit-requests-limit", "10", "anthropic-ratelimit-requests-remaining", "10",
			"anthropic-ratelimit-requests-reset", at(800*time.Millisecond, ms)}, 0},
		{"anthropic, no reset", []string{"anthropic-ratelimit-requests-limit", "10", "anthropic-ratelimit-requests-remaining", "9"}, 0},
		{"openai, a minute's bucket", []string{"x-ratelimit-limit-requests", "10000", "x-ratelimit-remaining-requests", "9999",
			"x-ratelimit-reset-requests", "6ms"}, 0},
		{"openai, the docs' example", []string{"x-ratelimit-limit-requests", "60", "x-ratelimit-remaining-requests", "59",
			"x-ratelimit-reset-requests", "1s"}, 0},
		{"openai, rounded to the second", []string{"x-ratelimit-limit-requests", "600", "x-ratelimit-remaining-requests", "595",
			"x-ratelimit-reset-requests", "0s"}, 0},
		// The review's API: a second's window in the minute's fields.
		{"anthropic, a second's window", []string{"anthropic-ratelimit-requests-limit", "10", "anthropic-ratelimit-requests-remaining", "9",
			"anthropic-ratelimit-requests-reset", at(800*time.Millisecond, ms)}, time.Millisecond},
		{"anthropic, whole seconds, far too soon", []string{"anthropic-ratelimit-requests-limit", "10", "anthropic-ratelimit-requests-remaining", "5",
			"anthropic-ratelimit-requests-reset", at(2*time.Second, s)}, time.Second},
		{"openai, a second's window", []string{"x-ratelimit-limit-requests", "10", "x-ratelimit-remaining-requests", "9",
			"x-ratelimit-reset-requests", "0.800s"}, time.Millisecond},
		{"openai, bare seconds", []string{"x-ratelimit-limit-requests", "10", "x-ratelimit-remaining-requests", "9",
			"x-ratelimit-reset-requests", "0.8"}, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		got := ParseRateLimitHeaders(respHeader(tt.headers...), headerNow).Requests
		if got.resetGrain != tt.want || got.Window != time.Minute {
			t.Errorf("%s: %+v, want resetGrain %v and the Window a minute", tt.name, got, tt.want)
		}
	}
}
