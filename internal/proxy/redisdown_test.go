package proxy_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/apitest"
	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/redis"
)

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// With --redis-mode closed and Redis down, clients got "502 ... could not
// reach the upstream API", which blamed the upstream the proxy never
// tried, and the log line said route="". It is a 503 in the upstream's
// style naming the shared limits, with a Retry-After, and the log names
// the route as the metrics do.
func TestRedisDownInClosedModeIsA503NamingTheSharedLimits(t *testing.T) {
	var got atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		io.WriteString(w, `{}`)
	}))
	t.Cleanup(api.Close)
	client, err := redis.Dial("redis://" + deadAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	store := redis.New(client, "proxy-redis-down", redis.Options{Mode: redis.Closed, CallTimeout: 50 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { store.Close() })
	var log apitest.Buffer
	s := &proxy.Server{Addr: "127.0.0.1:0",
		Routes: []proxy.Route{{Upstream: mustURL(t, api.URL), Preset: proxy.Anthropic,
			Limits: sluice.Limits{Rate: sluice.PerSecond(100), Store: store}}},
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := send(t.Context(), "POST", s.URL()+"/v1/messages", "", map[string]string{"Content-Type": "application/json"},
		`{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)
	if r.err != nil || r.status != http.StatusServiceUnavailable {
		t.Fatalf("got %d %v %s, want 503", r.status, r.err, r.body)
	}
	var e struct {
		Type  string
		Error struct{ Type, Message string }
	}
	if json.Unmarshal([]byte(r.body), &e) != nil || e.Type != "error" ||
		!strings.Contains(e.Error.Message, "cannot be reached") || strings.Count(e.Error.Message, "cannot be reached") != 1 ||
		!strings.Contains(e.Error.Message, "in redis mode closed the proxy refuses requests") {
		t.Errorf("body %s: want Anthropic's error shape naming the shared limits, once", r.body)
	}
	if !strings.Contains(e.Error.Message, "Redis at ") {
		t.Errorf("message %q: want it to say which Redis (the store's address and key)", e.Error.Message)
	}
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q, want some seconds", ra)
	}
	if n := got.Load(); n != 0 {
		t.Errorf("the upstream got %d requests, want none", n)
	}
	if l := log.String(); strings.Contains(l, `route=""`) || !strings.Contains(l, "route=/") {
		t.Errorf("the log does not name the route as the metrics do (/):\n%s", l)
	}
}
