package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testRedisAddr is the Redis the tests share; the test is skipped without
// one, and fails under CI=true.
func testRedisAddr(t *testing.T) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:6379", 200*time.Millisecond)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Redis at 127.0.0.1:6379: %v", err)
		}
		t.Skip("no Redis")
	}
	c.Close()
	return "127.0.0.1:6379"
}

// A --redis URL Redis refuses (a database out of range, TLS to a plain
// server, a wrong password) must stop run and proxy with a usage error
// naming the URL, password hidden: run on, each process would use the
// whole limit alone.
func TestRedisURLRedisRefusesIsAUsageError(t *testing.T) {
	addr := testRedisAddr(t)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintln(w, `{}`)
	}))
	defer srv.Close()
	in := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(in, []byte(srv.URL+"/a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ url, want string }{
		{"redis://" + addr + "/99", "DB index is out of range"},
		{"rediss://" + addr + "/0", "without TLS"},
		{"redis://someone:secret@" + addr + "/0", "WRONGPASS"},
	} {
		for _, args := range [][]string{
			{"run", "--progress", "none", "--rate", "20/s", "-o", filepath.Join(t.TempDir(), "out.jsonl"), in},
			{"proxy", "--listen", "127.0.0.1:0", "--rate", "20/s", "--upstream", srv.URL},
		} {
			args = append(args, "--redis", c.url, "--key", "redisflags-test")
			out, err := run(t, args...)
			if err == nil || exitCode(err) != 2 {
				t.Fatalf("%v: exit %d (%v); want 2\n%s", args, exitCode(err), err, out)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) || !strings.Contains(msg, "--redis") || strings.Contains(msg, "secret") {
				t.Errorf("%v: error %q: want --redis, %q, and no password", args, msg, c.want)
			}
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("%d requests sent", hits.Load())
	}
}
