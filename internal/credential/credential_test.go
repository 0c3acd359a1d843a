package credential

import (
	"net/http"
	"reflect"
	"testing"
)

// The headers a reviewer's redirect target received, and the ones it
// should still get.
func TestStripForeign(t *testing.T) {
	h := http.Header{}
	for _, name := range []string{"Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key", "Api-Key", "Anthropic-Api-Key",
		"X-Goog-Api-Key", "X-Auth-Token", "Private-Token", "X-Amz-Security-Token", "X-Session-Id", "X-Client-Secret", "Referer"} {
		h.Set(name, "SECRET")
	}
	keep := http.Header{"Accept": {"application/json"}, "Content-Type": {"application/json"}, "User-Agent": {"agent/1"}, "Anthropic-Version": {"2023-06-01"}}
	for k, v := range keep {
		h[k] = v
	}
	StripForeign(h)
	if !reflect.DeepEqual(h, keep) {
		t.Errorf("after StripForeign: %v, want %v", h, keep)
	}
}
