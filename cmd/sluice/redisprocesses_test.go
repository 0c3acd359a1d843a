package main

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// --redis-processes sets the share a process that never reached Redis
// takes (redis.Options.Processes), which the README told CLI users to set
// and no flag could (outside review: two proxies started while Redis was
// down each took the whole -c). Below 0 is a usage error naming it.
func TestRedisProcessesFlag(t *testing.T) {
	var r redisFlags
	f := pflag.NewFlagSet("t", pflag.ContinueOnError)
	r.add(f)
	if err := f.Parse([]string{"--redis", "redis://127.0.0.1:1", "--key", "k", "--redis-processes", "-1"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.store(nil); err == nil || !strings.Contains(err.Error(), "--redis-processes") {
		t.Errorf("--redis-processes -1: %v, want a usage error naming it", err)
	}
	if err := f.Parse([]string{"--redis-processes", "3"}); err != nil || r.processes != 3 {
		t.Errorf("--redis-processes 3: %v, %d", err, r.processes)
	}
}
