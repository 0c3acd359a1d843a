package proxy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/proxy"
)

// A body over the route's max body is refused with 413 in the upstream's
// style, whether its length is declared or not, and uses no quota: the
// gate admits nothing and the upstream sees nothing. A body at the limit
// is sent whole, to every attempt.
func TestMaxBodyRefusesLargerBodiesBeforeAnyQuota(t *testing.T) {
	var mu sync.Mutex
	var got []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		n := len(got)
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(529) // retried: the body must be sent again
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(up.Close)
	p := startProxy(t, proxy.Route{Upstream: mustURL(t, up.URL), Preset: proxy.Anthropic, MaxBody: 100,
		Limits: sluice.Limits{Rate: sluice.PerSecond(1000)}, Retry: sluice.RetryPolicy{MaxAttempts: 3}})

	body := `{"model":"claude-haiku-4-5","max_tokens":5,"messages":[]}`
	big := body[:len(body)-1] + strings.Repeat(" ", 101-len(body)) + "}"
	for _, tc := range []struct {
		name    string
		chunked bool
	}{{"declared length", false}, {"chunked", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var rd io.Reader = strings.NewReader(big)
			if tc.chunked {
				rd = io.MultiReader(strings.NewReader(big)) // no length known: sent chunked
			}
			req, _ := http.NewRequestWithContext(t.Context(), "POST", p.URL()+"/v1/messages", rd)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if (req.ContentLength > 0) == tc.chunked {
				t.Fatalf("request length %d: the test sent the wrong kind", req.ContentLength)
			}
			var e struct {
				Type  string
				Error struct{ Type, Message string }
			}
			json.NewDecoder(resp.Body).Decode(&e)
			if resp.StatusCode != 413 || e.Type != "error" || e.Error.Type != "request_too_large" || !strings.Contains(e.Error.Message, "100B") {
				t.Errorf("got %d %+v, want 413 request_too_large naming the limit", resp.StatusCode, e)
			}
		})
	}
	if s := stats(p); s.Gates.Admitted != 0 {
		t.Errorf("gate admitted %d, want 0: a refused body uses no quota", s.Gates.Admitted)
	}
	if len(got) != 0 {
		t.Fatalf("upstream got %d requests, want 0", len(got))
	}

	at := body[:len(body)-1] + strings.Repeat(" ", 100-len(body)) + "}"
	r := send(t.Context(), "POST", p.URL()+"/v1/messages", "", nil, at)
	if r.status != 200 {
		t.Fatalf("a body at the limit: %d %s", r.status, r.body)
	}
	if len(got) != 2 || got[0] != at || got[1] != at {
		t.Errorf("upstream got %q, want the body whole twice (the retry too)", got)
	}
}
