package proxy_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/proxy"
)

// A path no route serves gets a JSON error naming the path and the
// routes, as every other answer of the proxy's is JSON (outside review:
// it was text/plain).
func TestNoRouteIsAJSONErrorNamingTheRoutes(t *testing.T) {
	api, _ := countingAPI(t)
	s := &proxy.Server{Addr: "127.0.0.1:0", Routes: []proxy.Route{{Prefix: "/a", Upstream: mustURL(t, api.URL)}, {Prefix: "/b", Upstream: mustURL(t, api.URL)}}}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := send(t.Context(), "GET", s.URL()+"/c/x", "", nil, "")
	var e struct {
		Error struct{ Type, Message string }
	}
	if r.status != http.StatusNotFound || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || json.Unmarshal([]byte(r.body), &e) != nil {
		t.Fatalf("got %d %q %s, want a JSON 404", r.status, r.header.Get("Content-Type"), r.body)
	}
	if !strings.Contains(e.Error.Message, "/c/x") || !strings.Contains(e.Error.Message, "/a, /b") {
		t.Errorf("message %q: want the path and the routes", e.Error.Message)
	}
}
