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

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"100", 100, true}, {"32MiB", 32 << 20, true}, {"32 MiB", 32 << 20, true}, {"1kib", 1024, true},
		{"2GiB", 2 << 30, true}, {"5MB", 5e6, true}, {"7B", 7, true},
		{"", 0, false}, {"MiB", 0, false}, {"1.5MiB", 0, false}, {"-1", 0, false}, {"3TB", 0, false},
		{"99999999999999999999", 0, false}, {"9999999999GiB", 0, false},
	} {
		got, err := proxy.ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok {
			if back, err := proxy.ParseSize(proxy.FormatSize(got)); err != nil || back != got {
				t.Errorf("FormatSize(%d) = %q reads back as %d, %v", got, proxy.FormatSize(got), back, err)
			}
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"32MiB", "100", "1 kb", "9223372036854775807", "4611686018427387904GiB", "-1B", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := proxy.ParseSize(s)
		if err == nil && n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
	})
}
