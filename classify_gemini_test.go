package sluice

import (
	"net/http"
	"testing"
)

// A per-minute 429 worded as a quota (Google's Gemini API: "You exceeded
// your current quota" with a RetryInfo retryDelay and a PerMinute quota
// id) is a rate limit: throttled, paused and retried, not a halt of the
// gate for good (outside review). A quota with no word of retrying stays
// exhausted.
func TestQuotaWordedRateLimitIsThrottled(t *testing.T) {
	const gemini = `{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 10, model: gemini-2.0-flash\nPlease retry in 2.5s.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2s"}]}}`
	for _, tc := range []struct {
		name string
		body string
		want Class
	}{
		{"gemini per minute", gemini, ClassThrottled},
		{"retry delay only", `{"error":{"message":"You exceeded your current quota","details":[{"retryDelay":"30s"}]}}`, ClassThrottled},
		{"openai insufficient_quota", `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","code":"insufficient_quota"}}`, ClassQuotaExhausted},
		{"spend limit", `{"error":{"message":"spend limit reached"}}`, ClassQuotaExhausted},
	} {
		if got := Classify(http.StatusTooManyRequests, http.Header{}, []byte(tc.body), nil); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
