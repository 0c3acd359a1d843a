package sluice

import "testing"

// TestMentionsConcurrencyWordings: a 429 that blames calls in flight is
// known as such however the API words it; "Concurrency limit exceeded"
// was taken for a plain rate limit, and the ceiling never learned its top
// (outside review).
func TestMentionsConcurrencyWordings(t *testing.T) {
	for _, tc := range []struct {
		body string
		want bool
	}{
		{`{"error":{"message":"Number of concurrent connections has exceeded your rate limit."}}`, true},
		{`{"error":{"message":"Concurrency limit exceeded for your organization"}}`, true},
		{`{"message":"Too many requests in flight"}`, true},
		{`{"message":"too many in-flight requests"}`, true},
		{`{"message":"Maximum simultaneous requests reached"}`, true},
		{`{"message":"max parallel requests exceeded"}`, true},
		{`{"error":{"message":"Rate limit reached for requests per minute"}}`, false},
		{``, false},
	} {
		if got := mentionsConcurrency([]byte(tc.body)); got != tc.want {
			t.Errorf("mentionsConcurrency(%s) = %v, want %v", tc.body, got, tc.want)
		}
	}
}
