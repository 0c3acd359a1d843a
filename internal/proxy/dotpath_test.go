package proxy_test

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/proxy"
)

// rawGet writes the request line itself over a connection, as
// curl --path-as-is does (net/http's client would clean nothing either,
// but this leaves no doubt), and returns the response's status.
func rawGet(t *testing.T, addr, target string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("GET " + target + " HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String()
}

// A route sends its path on after the upstream's base path: /api/../secret
// reached the upstream as /base/../secret, out of the base the operator
// configured, and so did its encoded forms. Every form of a dot segment
// is now refused with 400 before a route or any quota is used, and the
// upstream sees none of them.
func TestDotSegmentsNeverReachTheUpstream(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.RequestURI)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(api.Close)
	for _, strip := range []bool{false, true} {
		p := startProxy(t, proxy.Route{Prefix: "/api", StripPrefix: strip, Upstream: mustURL(t, api.URL+"/base"), Preset: proxy.Anthropic})
		addr := strings.TrimPrefix(p.URL(), "http://")
		for _, target := range []string{
			"/api/../secret",
			"/api/..",
			"/api/x/../../secret",
			"/api/./secret",
			"/api/..%2fsecret",
			"/api/..%2Fsecret",
			"/api/%2e%2e/secret",
			"/api/%2E%2E/secret",
			"/api/.%2e/secret",
			"/api/%2e./secret",
			"/api/%2e%2e%2fsecret",
			"/api/..%5csecret",
			"/api/..%5Csecret",
			`/api/..\secret`,
			`/api\..\secret`,
			"/api/..;/secret",
			"/api/%252e%252e/secret",
			"/api/%25252e%25252e%25252fsecret",
			"/api/..?q=1",
			"/../api/v1/messages",
		} {
			status, body := rawGet(t, addr, target)
			if status != http.StatusBadRequest {
				t.Errorf("strip %v: GET %s: %d %s, want 400", strip, target, status, body)
			}
			if strings.HasPrefix(target, "/api/") && !strings.Contains(body, `"invalid_request_error"`) {
				t.Errorf("strip %v: GET %s: body %s, want the upstream's error style", strip, target, body)
			}
		}
		// Dots inside a segment are names, not dot segments.
		for _, target := range []string{"/api/v1/models/gpt-4.1", "/api/a..b/...", "/api/v1/x?path=../y"} {
			if status, body := rawGet(t, addr, target); status != http.StatusOK {
				t.Errorf("strip %v: GET %s: %d %s, want 200", strip, target, status, body)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen {
		if strings.Contains(s, "..") && !strings.Contains(s, "a..b") && !strings.Contains(s, "path=") {
			t.Errorf("the upstream got %s", s)
		}
	}
	if len(seen) != 6 {
		t.Errorf("the upstream got %d requests %q, want the 6 plain ones", len(seen), seen)
	}
}
