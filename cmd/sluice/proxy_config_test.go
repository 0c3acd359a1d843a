package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/mock"
)

// writeConfig writes a configuration file in the test's directory.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// --config describes the routes: the flags that describe the one route of
// --upstream are refused beside it, and a mistake in the file is a usage
// error naming the file, line and field.
func TestProxyConfigUsageErrors(t *testing.T) {
	good := writeConfig(t, "routes:\n  - upstream: http://127.0.0.1:1\n")
	bad := writeConfig(t, "routes:\n  - upstream: http://127.0.0.1:1\n    rate: 20\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"proxy", "--config", good, "--upstream", "http://x"}, "--upstream and --config"},
		{[]string{"proxy", "--config", good, "--rate", "5/s"}, "--rate and --config"},
		{[]string{"proxy", "--config", good, "--max-wait", "5s"}, "--max-wait and --config"},
		{[]string{"proxy", "--config", good, "--max-body", "1MiB"}, "--max-body and --config"},
		{[]string{"proxy", "--config", good, "--adaptive=false"}, "--adaptive and --config"},
		{[]string{"proxy", "--config", good, "--redis-mode", "closed"}, "give redis_mode: (local, open or closed) in each route, next to its redis:"},
		{[]string{"proxy", "--config", good, "--max-wait", "5s"}, "give max_wait: in each route"},
		{[]string{"proxy", "--config", good, "--redis-processes", "3"}, "give redis_processes: in each route"},
		{[]string{"proxy", "--config", good, "--key", "k"}, "give redis_key: in each route"},
		{[]string{"proxy", "--config", writeConfig(t, "routes:\n  - upstream: http://127.0.0.1:1\n    redis_mode: closed\n")}, "routes[0].redis_mode: needs redis"},
		{[]string{"proxy", "--config", writeConfig(t, "routes:\n  - upstream: http://127.0.0.1:1\n    redis: redis://127.0.0.1:1/0\n    redis_mode: shut\n")}, `routes[0].redis_mode: "shut": want local, open or closed`},
		{[]string{"proxy", "--config", good, "--listen", "0.0.0.0:0"}, "--allow-remote"},
		{[]string{"proxy", "--config", writeConfig(t, "listen: 0.0.0.0:0\nroutes:\n  - upstream: http://127.0.0.1:1\n")}, `sluice.yaml:1: listen: "0.0.0.0:0" is not a loopback address`},
		{[]string{"proxy", "--config", bad}, bad + `:3: routes[0].rate: "20": want COUNT/PERIOD such as 50/s`},
		{[]string{"proxy", "--config", filepath.Join(t.TempDir(), "none.yaml")}, "no such file"},
		{[]string{"proxy"}, "--config FILE"},
	} {
		out, err := run(t, c.args...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: exit %d, %v (%s); want a usage error with %s", c.args, exitCode(err), err, out, c.want)
		}
	}
}

// The command serves a file's routes, each to its upstream with the prefix
// taken off, and --listen overrides the file's, also a listen beyond
// loopback the file could not have without allow_remote: the file was
// refused before the flag was applied (outside review).
func TestProxyConfigServesItsRoutes(t *testing.T) {
	api, err := mock.Start(mock.Config{Style: mock.Anthropic, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	path := writeConfig(t, `
listen: 0.0.0.0:1
routes:
  - prefix: /anthropic
    upstream: `+api.URL()+`
    preset: anthropic
    rate: 100/s
  - prefix: /other
    upstream: http://127.0.0.1:1
`)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	base, out, done := startProxyCommand(ctx, t, "proxy", "--config", path, "--listen", "127.0.0.1:0")
	if !strings.Contains(out.String(), base+", 2 routes") {
		t.Errorf("the start line does not name 2 routes:\n%s", out.String())
	}
	resp, err := http.Post(base+"/anthropic/v1/messages", "application/json",
		strings.NewReader(`{"model":"claude-haiku-4-5","max_tokens":20,"messages":[{"role":"user","content":"Hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"type":"message"`) {
		t.Errorf("got %d %s, want a message", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("proxy stopped with %v", err)
	}
	if log := out.String(); !strings.Contains(log, "/anthropic -> "+api.URL()+" (anthropic)") {
		t.Errorf("no line for the route:\n%s", log)
	}
}
