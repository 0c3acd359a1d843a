package mock

import (
	"encoding/json"
	"testing"
	"testing/synctest"
	"time"
)

func TestGeneric(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestServer(t, Config{Requests: Limit{2, 10 * time.Second}})
		for i, m := range []string{"GET", "DELETE"} {
			w := do(s, m, "/any/path?q=1", "")
			v := jsonBody(t, w)
			if w.Code != 200 || v["method"] != m || v["path"] != "/any/path" || v["count"] != float64(i+1) {
				t.Errorf("%s: %d %s", m, w.Code, w.Body)
			}
		}
		w := do(s, "PUT", "/x", "")
		for h, want := range map[string]string{
			"Retry-After":           "5", // one unit of 2 per 10s
			"X-RateLimit-Limit":     "2",
			"X-RateLimit-Remaining": "0",
			"X-RateLimit-Reset":     "10",
		} {
			if got := w.Header().Get(h); got != want {
				t.Errorf("%s = %q; want %q", h, got, want)
			}
		}
		if v := jsonBody(t, w); w.Code != 429 || v["error"] != "rate limit exceeded" {
			t.Errorf("third request: %d %s; want 429 rate limit exceeded", w.Code, w.Body)
		}
		time.Sleep(5 * time.Second)
		if w := do(s, "GET", "/x", ""); w.Code != 200 || w.Header().Get("X-RateLimit-Remaining") != "0" {
			t.Errorf("after Retry-After: %d, remaining %q; want 200, 0", w.Code, w.Header().Get("X-RateLimit-Remaining"))
		}
		checkInvariant(t, s)
	})
}

func TestGenericNoLimits(t *testing.T) {
	s := newTestServer(t, Config{})
	w := do(s, "POST", "/v1/messages", "anything")
	if w.Code != 200 || w.Header().Get("X-RateLimit-Limit") != "" {
		t.Errorf("no limits: %d, X-RateLimit-Limit %q; want 200 and no header", w.Code, w.Header().Get("X-RateLimit-Limit"))
	}
}

// The generic style echoes the request's body, so a test can tell which
// request each answer is for.
func TestGenericEchoesTheBody(t *testing.T) {
	s := newTestServer(t, Config{})
	tests := []struct {
		body string
		want string // the "body" member of the answer, as JSON; "" for none
	}{
		{`{"q": "why", "n": [1, 2]}`, `{"q":"why","n":[1,2]}`},
		{`"just a string"`, `"just a string"`},
		{`not json <b>`, `"not json \u003cb\u003e"`},
		{``, ``},
	}
	for _, tt := range tests {
		w := do(s, "POST", "/ask", tt.body)
		var v map[string]json.RawMessage
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || w.Code != 200 {
			t.Fatalf("POST %q: %d %s (%v)", tt.body, w.Code, w.Body, err)
		}
		if got := string(v["body"]); got != tt.want {
			t.Errorf("POST %q: body %s; want %s", tt.body, got, tt.want)
		}
		if string(v["path"]) != `"/ask"` || string(v["method"]) != `"POST"` {
			t.Errorf("POST %q: %s", tt.body, w.Body)
		}
	}
}
