package mock

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// With NoRateLimitHeaders the mock plays an API that says its limits only
// by refusing: no response of any style carries a rate-limit header, and
// the limit is still enforced with a 429 and its Retry-After.
func TestNoRateLimitHeadersSaysLimitsOnlyBy429(t *testing.T) {
	for _, tc := range []struct {
		style Style
		path  string
		body  string
	}{
		{Generic, "/x", ""},
		{Anthropic, "/v1/messages", message(10, 40)},
		{OpenAI, "/v1/chat/completions", chat(10, 40)},
	} {
		t.Run(string(tc.style), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newTestServer(t, Config{Style: tc.style, Requests: Limit{2, 10 * time.Second}, NoRateLimitHeaders: true})
				ws := doAll(s, 3, "POST", tc.path, tc.body)
				if got := statuses(ws); got[200] != 2 || got[429] != 1 {
					t.Fatalf("statuses %v, want two 200s and a 429", got)
				}
				for _, w := range ws {
					for h := range w.Header() {
						if k := strings.ToLower(h); strings.Contains(k, "ratelimit") {
							t.Errorf("%d carries %s: %q", w.Code, h, w.Header().Get(h))
						}
					}
					if w.Code == 429 && w.Header().Get("Retry-After") == "" {
						t.Errorf("the 429 has no Retry-After")
					}
				}
				checkInvariant(t, s)
			})
		})
	}
}
