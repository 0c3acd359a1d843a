package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/proxy"
)

// A stream still running when the grace ran out was cut with its
// connection, and Node's fetch took the end of a Connection: close
// response for a whole body: the SDK's stream ended cleanly, half its
// events missing (outside review). It now ends with an error event, which
// the SDKs raise, and nothing after it.
func TestShutdownEndsACutStreamWithAnErrorEvent(t *testing.T) {
	started := make(chan struct{})
	stop := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; ; i++ {
			fmt.Fprintf(w, "event: content_block_delta\ndata: {\"i\":%d}\n\n", i)
			w.(http.Flusher).Flush()
			if i == 0 {
				close(started)
			}
			select {
			case <-r.Context().Done():
				return
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}))
	t.Cleanup(func() { close(stop); up.Close() })
	s := &proxy.Server{Addr: "127.0.0.1:0", Routes: []proxy.Route{{Upstream: mustURL(t, up.URL)}}}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.URL() + "/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-started
	body := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(resp.Body)
		body <- string(b)
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	s.Shutdown(ctx)
	got := <-body
	if !strings.HasSuffix(got, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"sluice proxy: stopping; the stream was cut before its end\"}}\n\n") {
		t.Errorf("the stream cut by the shutdown ends %q; want the error event last", got[max(0, len(got)-200):])
	}
	if !strings.Contains(got, `data: {"i":0}`) {
		t.Errorf("the stream lost its first events: %q", got[:min(len(got), 200)])
	}
}
