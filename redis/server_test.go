package redis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// sharedAddr returns the address of the Redis the tests share:
// SLUICE_TEST_REDIS, else 127.0.0.1:6379, else one started here. Without
// any, the test is skipped, and fails under CI=true.
func sharedAddr(t testing.TB) string {
	t.Helper()
	if a := os.Getenv("SLUICE_TEST_REDIS"); a != "" {
		if u, err := goredis.ParseURL(a); err == nil {
			return u.Addr
		}
		return a
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:6379", 200*time.Millisecond); err == nil {
		c.Close()
		return "127.0.0.1:6379"
	}
	return startServer(t).addr
}

// ownServer is a redis-server this test started, and may stop.
type ownServer struct {
	t    testing.TB
	addr string
	port int
	cmd  *exec.Cmd
	args []string // more redis-server arguments
}

// startServer starts a redis-server from PATH on a free port.
func startServer(t testing.TB, args ...string) *ownServer {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no redis-server on PATH and no SLUICE_TEST_REDIS: %v", err)
		}
		t.Skip("no redis-server on PATH")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &ownServer{t: t, addr: fmt.Sprintf("127.0.0.1:%d", port), port: port, args: args}
	_ = path
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *ownServer) start() {
	s.t.Helper()
	args := append([]string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir()}, s.args...)
	s.cmd = exec.Command("redis-server", args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c := goredis.NewClient(&goredis.Options{Addr: s.addr})
		if len(s.args) > 0 {
			c.Close()
			conn, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
			if err == nil {
				conn.Close()
				return
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		err := c.Ping(context.Background()).Err()
		c.Close()
		if err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("redis-server on %s did not answer", s.addr)
}

// pause stops the server without closing its connections (SIGSTOP: a
// hung server, a VM paused), until resume; its data stays.
func (s *ownServer) pause() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.t.Fatal(err)
	}
}

// resume continues a paused server.
func (s *ownServer) resume() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		s.t.Fatal(err)
	}
}

func (s *ownServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

var prefixSeq atomic.Int64

// uniquePrefix returns a key prefix no other test run uses.
func uniquePrefix(t testing.TB) string {
	return fmt.Sprintf("sluicetest-%d-%d-%d", os.Getpid(), time.Now().UnixNano(), prefixSeq.Add(1))
}

// dialTest returns a client of addr with short timeouts, closed at the
// end of the test.
func dialTest(t testing.TB, addr string) *goredis.Client {
	t.Helper()
	c, err := Dial("redis://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newTestStore returns a store on addr with a unique prefix, closed at
// the end of the test.
func newTestStore(t testing.TB, addr, prefix string, opt Options) *Store {
	t.Helper()
	opt.Prefix = prefix
	if opt.CallTimeout == 0 {
		// This machine is shared and loaded: the logic tests must not
		// fall back for a slow answer (the outage tests set their own).
		opt.CallTimeout = 2 * time.Second
	}
	s := New(dialTest(t, addr), "api", opt)
	t.Cleanup(func() { s.Close() })
	return s
}

// awaitReleases waits for the releases st sends in the background (a
// server stopped meanwhile answers them with EOF, and a test that wants
// the warning to name the cause of its next call waits first).
func awaitReleases(t testing.TB, st *Store) {
	t.Helper()
	st.mu.Lock()
	gates := make([]*shared, 0, len(st.gates))
	for _, g := range st.gates {
		gates = append(gates, g)
	}
	st.mu.Unlock()
	for _, g := range gates {
		if err := g.awaitReleases(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
