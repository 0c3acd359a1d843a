package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/proxy"
)

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A stream cut short after it began, by the upstream or by the client,
// is still counted under its outcome (error, client_gone), logged, and
// leaves no slot in flight: the ReverseProxy panics with
// http.ErrAbortHandler there, and the proxy once skipped all of that.
func TestStreamCutMidwayIsCountedAndLogged(t *testing.T) {
	for _, c := range []struct {
		name, outcome, cause string
		clientLeaves         bool
	}{
		{"upstream breaks", "error", "upstream stream broken", false},
		{"client leaves", "client_gone", "client gone", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "event: one\ndata: {}\n\n")
				w.(http.Flusher).Flush()
				if c.clientLeaves {
					<-r.Context().Done()
					return
				}
				// The connection closes without the chunked body's end.
				panic(http.ErrAbortHandler)
			}))
			defer up.Close()
			var logs syncBuffer
			p := &proxy.Server{Addr: "127.0.0.1:0", Routes: []proxy.Route{{
				Upstream: mustURL(t, up.URL),
				Limits:   sluice.Limits{Concurrency: 1, FixedConcurrency: true},
			}}, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
			if err := p.Open(); err != nil {
				t.Fatal(err)
			}
			defer p.Close()

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", p.URL()+"/v1/messages", strings.NewReader("{}"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(resp.Body).ReadString('\n')
			if line != "event: one\n" {
				t.Fatalf("first line %q", line)
			}
			if c.clientLeaves {
				cancel()
			} else {
				io.Copy(io.Discard, resp.Body)
			}
			resp.Body.Close()

			series := `sluice_proxy_requests_total{outcome="` + c.outcome + `",route="/"}`
			eventually(t, series+" counted", func() bool {
				m, _ := scrape(t, p.URL())
				return m[series] == 1
			})
			m, _ := scrape(t, p.URL())
			if got := m[`sluice_proxy_requests_total{outcome="2xx",route="/"}`]; got != 0 {
				t.Errorf("2xx = %v, want 0: the stream was cut", got)
			}
			eventually(t, "the slot is free", func() bool { st := stats(p); return st.Gates.InFlight == 0 && st.Queued == 0 })
			eventually(t, "the request logged", func() bool { return strings.Contains(logs.String(), `aborted="`+c.cause+`"`) })
			// The slot is usable again: a second request is admitted.
			if c.clientLeaves {
				return
			}
			r := send(context.Background(), "POST", p.URL()+"/v1/messages", "", nil, "{}")
			if r.status != http.StatusOK {
				t.Errorf("second request: %d %v", r.status, r.err)
			}
		})
	}
}
