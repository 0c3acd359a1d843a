package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A client that declared a large body and then trickled it, or stopped,
// held its Content-Length of the body budget for as long as it liked,
// and the other requests waited out their max wait for room (outside
// review). A body that sends nothing for bodyIdleTimeout is answered 408,
// its room given back.
func TestStalledBodyIsAnsweredAndGivesItsRoomBack(t *testing.T) {
	old := bodyIdleTimeout
	bodyIdleTimeout = 300 * time.Millisecond
	t.Cleanup(func() { bodyIdleTimeout = old })
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	s := &Server{Addr: "127.0.0.1:0", Routes: []Route{{Upstream: u}}}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n0123456789")
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 408") {
		t.Fatalf("a body stalled after 10 of 100000 bytes: %q, %v; want 408", line, err)
	}
	if held := s.routes[0].budget.held.Load(); held != 0 {
		t.Errorf("%d bytes of the body budget still held after the 408", held)
	}
	resp, err := http.Post(s.URL()+"/y", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a request after it: %d, want 200", resp.StatusCode)
	}
}
