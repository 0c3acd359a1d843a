package main

import (
	"net/url"
	"strings"
	"testing"
)

// The start line never shows a key the upstream URL carries: not a
// password, not a query's value (Gemini takes its key as ?key=; outside
// review).
func TestShownUpstreamHidesKeys(t *testing.T) {
	for _, raw := range []string{
		"http://127.0.0.1:9010/base?key=SECRET",
		"https://user:SECRET@api.example/v1?a=1&key=SECRET",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		got := shownUpstream(u)
		if strings.Contains(got, "SECRET") || !strings.Contains(got, u.Host) {
			t.Errorf("shownUpstream(%s) = %s; want the host, no secret", raw, got)
		}
		if u.String() != raw && !strings.Contains(raw, "@") {
			t.Errorf("shownUpstream changed the URL itself: %s", u)
		}
	}
}
