package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/apitest"
	"github.com/sluicehq/sluice/redis"
)

// go-redis printed a line of its own on stderr for every failed dial
// ("redis: 2026/12/02 ... pool.go:770: ..."), unstructured and many a
// second while Redis was down. The store's Dial now sends them to slog at
// debug level, where the default handler drops them.
func TestRedisClientLogGoesToSlogAtDebug(t *testing.T) {
	var buf apitest.Buffer
	old := slog.Default()
	t.Cleanup(func() { slog.SetDefault(old) })
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, closeStore, err := (&redisFlags{url: "redis://" + addr, key: "redislog-test", mode: "closed"}).store(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	client, err := redis.Dial("redis://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	client.Ping(context.Background()) // refused: go-redis logs the failed dial

	out := buf.String()
	if !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "go-redis: ") || !strings.Contains(out, "failed to dial") {
		t.Errorf("go-redis's log line did not reach slog at debug level; slog got:\n%s", out)
	}
}
