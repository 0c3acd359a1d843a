package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

// With --redis-mode closed, a Redis that stops answering mid-run stops
// the run early (exit 3): the items not sent stay not finished, none is
// written as failed, and the summary says why and how to go on.
func TestRedisClosedModeStopsTheRunRatherThanFailingItems(t *testing.T) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server on PATH")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	redisSrv := exec.Command(path, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := redisSrv.Start(); err != nil {
		t.Fatal(err)
	}
	killed := make(chan struct{})
	stopRedis := sync.OnceFunc(func() { redisSrv.Process.Kill(); redisSrv.Wait(); close(killed) })
	defer stopRedis()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 5 {
			go stopRedis()
		}
		fmt.Fprintln(w, `{}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "%s/%d\n", srv.URL, i)
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "run", "--progress", "none", "--rate", "50/s", "--redis", "redis://"+addr, "--redis-mode", "closed",
		"--key", fmt.Sprintf("closedtest-%d", time.Now().UnixNano()), "-o", filepath.Join(dir, "out.jsonl"), in)
	if exitCode(err) != 3 {
		t.Fatalf("exit %d (%v); want 3 (stopped early)\n%s", exitCode(err), err, out)
	}
	for _, want := range []string{"stopped early: the shared limits (Redis at " + addr, "--redis-mode closed; nothing more sent", "0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, "out.errors.jsonl")); err == nil && len(data) > 0 {
		t.Errorf("errors file:\n%s", data)
	}
	if hits.Load() >= 200 {
		t.Errorf("all %d items were sent", hits.Load())
	}
}

// run's start line says the limits are shared, through which Redis,
// under which key and in which mode, never with the password.
func TestRedisStartLineNamesTheSharedLimits(t *testing.T) {
	addr := testRedisAddr(t)
	in := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(in, []byte("http://127.0.0.1:9/a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "run", "--dry-run", "--rate", "20/s", "--redis", "redis://"+addr+"/0", "--key", "K", in)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if want := "limits: concurrency 8 (adaptive), rate 20/s"; !strings.Contains(out, want) {
		t.Fatalf("no %q in:\n%s", want, out)
	}
	if want := "; shared through Redis at " + addr + "/0 as K (mode local)"; !strings.Contains(out, want) {
		t.Fatalf("no %q in:\n%s", want, out)
	}
}
