package mcp

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestLineTransportSkipsOverlongLines: a line over the limit is answered
// with -32600 and skipped; the next line still gets through whole.
func TestLineTransportSkipsOverlongLines(t *testing.T) {
	good := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	src := strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"` + strings.Repeat("x", 300) + `"}` + "\n" + good + "\n")
	var dst, errs bytes.Buffer
	if err := copyValidLines(src, &dst, &errs, 100); err != nil {
		t.Fatal(err)
	}
	if got := dst.String(); got != good+"\n" {
		t.Errorf("passed on %q, want %q", got, good+"\n")
	}
	if !strings.Contains(errs.String(), `"code":-32600`) || !strings.Contains(errs.String(), "over 100 bytes") {
		t.Errorf("answered %q, want a -32600 naming the limit", errs.String())
	}
}

// FuzzCheckLine: every line is either passed on as a JSON-RPC message or
// answered with one JSON-RPC error on one line.
func FuzzCheckLine(f *testing.F) {
	for _, s := range []string{`this is not json`, `{}`, `[]`, `[1]`, `{"jsonrpc":"2.0","id":1,`, `{"jsonrpc":"2.0","id":1,"method":"x"}`,
		`{"jsonrpc":"2.0","id":{},"method":"x"}`, `{"jsonrpc":"2.0","id":1}`, `null`, ` "s" `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if len(bytes.TrimSpace(line)) == 0 {
			return
		}
		answer := checkLine(line, false, 1<<20)
		if answer == nil {
			return
		}
		if bytes.Count(answer, []byte("\n")) != 1 || answer[len(answer)-1] != '\n' {
			t.Fatalf("answer %q is not one line", answer)
		}
		var a struct {
			Version string `json:"jsonrpc"`
			Error   struct {
				Code int `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(answer, &a); err != nil || a.Version != "2.0" || (a.Error.Code != -32700 && a.Error.Code != -32600) {
			t.Fatalf("answer %q: %v", answer, err)
		}
	})
}
