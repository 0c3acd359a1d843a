package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sluicehq/sluice/internal/apitest"
	"github.com/sluicehq/sluice/internal/mcp"
)

// Two sluice mcp processes (two agents' sessions) naming the same --key
// share one host's rate: the host never sees more than the rate from both
// together, and each says at startup where its limits are shared.
func TestMCPProcessesShareAHostsRateThroughRedis(t *testing.T) {
	url := redisURL(t)
	bin := binBuild(t)
	var mu sync.Mutex
	var arrivals []time.Time
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		fmt.Fprint(w, "ok")
	}))
	defer api.Close()
	key := fmt.Sprintf("mcptest-%d-%d", os.Getpid(), time.Now().UnixNano())
	const each = 30
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			cmd := exec.Command(bin, "mcp", "--allow-private", "--rate", "20/s",
				"--redis", url, "--key", key)
			var stderr apitest.Buffer
			cmd.Stderr = &stderr
			client := sdk.NewClient(&sdk.Implementation{Name: "redis-test", Version: "v0"}, nil)
			cs, err := client.Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
			if err != nil {
				t.Errorf("session %d: connect: %v; stderr:\n%s", i, err, stderr.String())
				return
			}
			defer cs.Close()
			urls := make([]string, each)
			for j := range urls {
				urls[j] = fmt.Sprintf("%s/%d/%d", api.URL, i, j)
			}
			res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "fetch_many", Arguments: map[string]any{"urls": urls}})
			if err != nil || res.IsError {
				t.Errorf("session %d: fetch_many: %v %+v", i, err, res)
				return
			}
			var rep mcp.Report
			raw, _ := json.Marshal(res.StructuredContent)
			if err := json.Unmarshal(raw, &rep); err != nil {
				t.Errorf("session %d: %v", i, err)
			}
			if s := rep.Summary; s.Succeeded != each {
				t.Errorf("session %d: summary %+v", i, s)
			}
			if log := stderr.String(); !strings.Contains(log, "shared_through=") || !strings.Contains(log, "as "+key) {
				t.Errorf("session %d: the start line does not name the shared limits:\n%s", i, log)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(arrivals) != 2*each {
		t.Fatalf("the API saw %d calls; want %d", len(arrivals), 2*each)
	}
	// The wiring, as for sluice run and proxy: sharing puts 18 in any
	// 900ms, not sharing 36; 6 more absorb a loaded machine's delays (see
	// TestRunProcessesShareARateThroughRedis).
	if worst := apitest.BusiestWindow(arrivals, 900*time.Millisecond); worst > 24 {
		t.Errorf("a 900ms window held %d calls from the two sessions; want at most 24", worst)
	}
	if span := arrivals[len(arrivals)-1].Sub(arrivals[0]); span < 2500*time.Millisecond {
		t.Errorf("60 calls spanned %v; want about 3s at a shared 20/s", span)
	}
}

// --key without --redis, and --redis without --key, are usage errors
// that say what is missing.
func TestMCPRedisFlagsNeedEachOther(t *testing.T) {
	bin := binBuild(t)
	for _, args := range [][]string{{"--key", "K"}, {"--redis", "redis://127.0.0.1:6379"}} {
		cmd := exec.Command(bin, append([]string{"mcp"}, args...)...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "--redis") {
			t.Errorf("mcp %v: %v, want exit 2 naming --redis:\n%s", args, err, out)
		}
	}
}
