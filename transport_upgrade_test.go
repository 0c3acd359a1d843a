package sluice

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A 101 Switching Protocols (a WebSocket handshake) hung RoundTrip for
// ever: the Transport read the upgraded connection as an error body,
// waiting for an end the server never sends first (outside review). It
// comes back as net/http gives it, the body the connection to read and
// write, and its slot is free: the handshake was the call.
func TestTransportPassesAnUpgradeOn(t *testing.T) {
	hijacked := make(chan net.Conn, 8) // a connection per case
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		hijacked <- c
		defer c.Close()
		buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		buf.Flush()
		line, _ := bufio.NewReader(c).ReadString('\n') // the client speaks first
		io.WriteString(c, "echo:"+line)
	}))
	t.Cleanup(srv.Close)
	for _, tr := range []*Transport{
		{Limits: Limits{Concurrency: 1, FixedConcurrency: true}},
		// An attempt with a context of its own, ended once the headers came.
		{Limits: Limits{Concurrency: 1, FixedConcurrency: true}, Base: http.DefaultTransport.(*http.Transport).Clone(), AttemptTimeout: time.Minute},
	} {
		upgrade(t, tr, srv.URL, hijacked)
	}
}

func upgrade(t *testing.T, tr *Transport, url string, hijacked <-chan net.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	done := make(chan struct{})
	var resp *http.Response
	var err error
	go func() {
		defer close(done)
		resp, err = tr.RoundTrip(req)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		(<-hijacked).Close() // neither the context nor the server's close ends it
		<-done
		t.Fatal("RoundTrip of a 101 not back after 5s")
	}
	if err != nil {
		t.Fatal(err)
	}
	conn, ok := resp.Body.(io.ReadWriteCloser)
	if resp.StatusCode != http.StatusSwitchingProtocols || !ok {
		t.Fatalf("status %d, body %T; want 101 and the connection (an io.ReadWriteCloser)", resp.StatusCode, resp.Body)
	}
	defer conn.Close()
	if s := tr.Stats(); s.InFlight != 0 {
		t.Errorf("%d in flight with the connection upgraded; want its slot free", s.InFlight)
	}
	io.WriteString(conn, "hi\n")
	if got, _ := bufio.NewReader(conn).ReadString('\n'); !strings.HasPrefix(got, "echo:hi") {
		t.Errorf("read %q from the upgraded connection; want echo:hi", got)
	}
}
