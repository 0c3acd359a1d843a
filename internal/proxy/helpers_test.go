package proxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/mock"
	"github.com/sluicehq/sluice/internal/proxy"
)

// startProxy opens a proxy on a loopback port with one route and closes
// it when the test ends.
func startProxy(t *testing.T, r proxy.Route) *proxy.Server {
	t.Helper()
	s := &proxy.Server{Addr: "127.0.0.1:0", Routes: []proxy.Route{r}}
	if err := s.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// startMock starts the mock API on a loopback port.
func startMock(t *testing.T, cfg mock.Config) *mock.Server {
	t.Helper()
	srv, err := mock.Start(cfg)
	if err != nil {
		t.Fatalf("mock.Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// held is an upstream whose requests wait until released, and which
// records the order they arrived in by their X-Test-Id header.
type held struct {
	*httptest.Server
	release chan struct{}
	mu      sync.Mutex
	order   []string
	hosts   []string
}

func startHeld(t *testing.T) *held {
	t.Helper()
	h := &held{release: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.order = append(h.order, r.Header.Get("X-Test-Id"))
		h.hosts = append(h.hosts, r.Host)
		h.mu.Unlock()
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *held) seen() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.order...)
}

// result is one client request's outcome.
type result struct {
	status int
	header http.Header
	body   string
	err    error
}

// send makes one request to the proxy.
func send(ctx context.Context, method, url, id string, header map[string]string, body string) result {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return result{err: err}
	}
	if id != "" {
		req.Header.Set("X-Test-Id", id)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

// goSend sends in a goroutine; the result comes on the channel.
func goSend(ctx context.Context, method, url, id string, header map[string]string, body string) <-chan result {
	ch := make(chan result, 1)
	go func() { ch <- send(ctx, method, url, id, header, body) }()
	return ch
}

// eventually waits until cond holds, failing the test after a long time:
// it waits for a state, and measures nothing.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// stats returns the proxy's only route's stats.
func stats(s *proxy.Server) proxy.RouteStats { return s.Stats()[0] }
