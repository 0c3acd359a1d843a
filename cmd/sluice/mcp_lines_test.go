package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

// TestMCPSurvivesMalformedLines feeds `sluice mcp` lines that are not
// JSON-RPC messages between valid requests: each gets a JSON-RPC error,
// the valid ones their answers, and the process serves on until its
// input ends, exiting 0.
func TestMCPSurvivesMalformedLines(t *testing.T) {
	cmd := exec.Command(os.Args[0], "mcp")
	cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN=1")
	var stderr apitest.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`this is not json`,
		`{}`,
		`[]`,
		`[{"jsonrpc":"2.0","id":3,"method":"tools/list"}]`,
		`{"jsonrpc":"2.0","id":4,`,
		`42`,
		`{"jsonrpc":"1.0","id":6,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":true,"method":"tools/list"}`,
		``,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
	}
	go func() {
		for _, l := range lines {
			io.WriteString(stdin, l+"\n")
		}
	}()

	type answer struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	got := make(chan answer)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var a answer
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				t.Errorf("stdout line %q: %v", sc.Text(), err)
			}
			got <- a
		}
		close(got)
	}()
	wantErrors := map[int]int{-32700: 2, -32600: 6} // not json + truncated; {} [] batch 42 1.0 id:true
	var codes = map[int]int{}
	var listed bool
	var sixth bool
	timeout := time.After(30 * time.Second)
	for !listed || codes[-32700]+codes[-32600] < 8 {
		select {
		case a, ok := <-got:
			if !ok {
				t.Fatalf("stdout ended: the server died; stderr:\n%s", stderr.String())
			}
			switch {
			case a.Error != nil:
				codes[a.Error.Code]++
				if string(a.ID) == "6" {
					sixth = true
				}
				if strings.Contains(a.Error.Message, "invalid character") || strings.Contains(a.Error.Message, "version tag") {
					t.Errorf("error %q speaks Go, not JSON-RPC", a.Error.Message)
				}
			case string(a.ID) == "2":
				listed = strings.Contains(string(a.Result), "fetch_many")
			}
		case <-timeout:
			t.Fatalf("after 30s: codes %v, tools listed %v; stderr:\n%s", codes, listed, stderr.String())
		}
	}
	for code, n := range wantErrors {
		if codes[code] != n {
			t.Errorf("%d errors with code %d, want %d (all: %v)", codes[code], code, n, codes)
		}
	}
	if !sixth {
		t.Error("the error for the jsonrpc 1.0 line does not carry its id 6")
	}
	stdin.Close()
	done := make(chan error)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("sluice mcp exited with %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("sluice mcp did not exit after its input ended")
	}
}
