package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sluicehq/sluice/internal/apitest"
	"github.com/sluicehq/sluice/internal/mcp"
)

// TestMain lets a test run this binary as `sluice ARGS...`: with
// SLUICE_TEST_MAIN=1 the test binary is the command, as a client
// starts it.
func TestMain(m *testing.M) {
	if os.Getenv("SLUICE_TEST_MAIN") == "1" {
		os.Args = append([]string{"sluice"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestMCPOverStdio starts `sluice mcp` as a client does, as a process
// speaking over its standard input and output, and drives it with the
// go-sdk's client.
func TestMCPOverStdio(t *testing.T) {
	var inFlight, peak atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
		}
		time.Sleep(2 * time.Millisecond) // the API's latency
		inFlight.Add(-1)
		fmt.Fprintf(w, "page %s", r.URL.Path)
	}))
	defer api.Close()

	cmd := exec.Command(os.Args[0], "mcp", "--allow-private", "--global-concurrency", "3", "--max-items", "500")
	cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN=1")
	var stderr apitest.Buffer
	cmd.Stderr = &stderr
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := sdk.NewClient(&sdk.Implementation{Name: "stdio-test", Version: "v0"}, nil)
	cs, err := client.Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v; stderr:\n%s", err, stderr.String())
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) != 3 {
		t.Fatalf("tools/list: %v, %+v", err, tools)
	}
	list := make([]string, 500)
	for i := range list {
		list[i] = fmt.Sprintf("%s/%d", api.URL, i)
	}
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "fetch_many", Arguments: map[string]any{"urls": list}})
	if err != nil || res.IsError {
		t.Fatalf("fetch_many: %v %+v", err, res)
	}
	rep := decodeReport(t, res)
	if s := rep.Summary; s.Succeeded != 500 || s.State != "done" {
		t.Fatalf("summary %+v", s)
	}
	if p := peak.Load(); p > 3 {
		t.Errorf("peak concurrency %d, over --global-concurrency 3", p)
	}
	res, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_results", Arguments: map[string]any{"handle": rep.Summary.Handle, "offset": 490, "limit": 50}})
	if err != nil || res.IsError {
		t.Fatalf("get_results: %v %+v", err, res)
	}
	page := decodeReport(t, res)
	if len(page.Items) != 10 || page.Items[9].Text != "page /499" || page.NextOffset != 0 {
		t.Errorf("last page: %d items, last %+v, next %d", len(page.Items), page.Items[len(page.Items)-1], page.NextOffset)
	}
	res, _ = cs.CallTool(ctx, &sdk.CallToolParams{Name: "fetch_many", Arguments: map[string]any{"urls": append(list, list[0])}})
	if !res.IsError || !strings.Contains(res.Content[0].(*sdk.TextContent).Text, "cap of 500 items") {
		t.Errorf("501 items: IsError %v, %+v", res.IsError, res.Content)
	}
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if log := stderr.String(); !strings.Contains(log, "fetch_many handle=f1 state=done total=500") {
		t.Errorf("stderr lacks the call's log line:\n%s", log)
	}
}

func decodeReport(t *testing.T, res *sdk.CallToolResult) mcp.Report {
	t.Helper()
	raw, _ := json.Marshal(res.StructuredContent)
	var rep mcp.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestMCPUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"mcp", "--tokens", "1000/m"}, "mcp does not take token limits"},
		{[]string{"mcp", "--global-concurrency", "0"}, "--global-concurrency 0: want at least 1"},
		{[]string{"mcp", "--global-rate", "fast"}, `--global-rate "fast": want COUNT/PERIOD`},
		{[]string{"mcp", "--max-body", "lots"}, `--max-body "lots": want a positive size`},
		{[]string{"mcp", "--max-items", "0"}, "--max-items 0: want at least 1"},
		{[]string{"mcp", "--call-budget", "0s"}, "--call-budget 0s: want a positive duration"},
		{[]string{"mcp", "--rate", "api.example.com=fast"}, `--rate "api.example.com=fast": want COUNT/PERIOD`},
	}
	for _, tc := range tests {
		_, err := run(t, tc.args...)
		if exitCode(err) != 2 || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: exit %d, %v; want exit 2 and %q", tc.args, exitCode(err), err, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "512KiB": 512 << 10, "2MiB": 2 << 20, "1GiB": 1 << 30, "3MB": 3e6, "10 KiB": 10 << 10} {
		if got, err := parseSize("max-body", in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-1", "1.5MiB", "MiB", "99999999999GiB"} {
		if _, err := parseSize("max-body", bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

// TestREADMEMCPConfigIsValid: the client configuration the README shows
// parses as JSON and its arguments are flags sluice mcp takes.
func TestREADMEMCPConfigIsValid(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "```json\n{\n  \"mcpServers\"")
	if !ok {
		t.Fatal("README.md shows no mcpServers configuration")
	}
	block, _, _ := strings.Cut("{\n  \"mcpServers\""+after, "```")
	var conf struct {
		MCPServers map[string]struct {
			Command string   `json:"command"`
			Args    []string `json:"args"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal([]byte(block), &conf); err != nil {
		t.Fatalf("README's configuration: %v\n%s", err, block)
	}
	s := conf.MCPServers["sluice"]
	if s.Command != "sluice" || len(s.Args) == 0 || s.Args[0] != "mcp" {
		t.Fatalf("README's configuration runs %q %v, want sluice mcp", s.Command, s.Args)
	}
	if err := newMCP().ParseFlags(s.Args[1:]); err != nil {
		t.Errorf("README's arguments %v: %v", s.Args, err)
	}
}
