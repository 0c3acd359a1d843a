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
	if err := copyValidLines(src, &dst, &errs, 100, nil); err != nil {
		t.Fatal(err)
	}
	if got := dst.String(); got != good+"\n" {
		t.Errorf("passed on %q, want %q", got, good+"\n")
	}
	if !strings.Contains(errs.String(), `"code":-32600`) || !strings.Contains(errs.String(), "over 100 bytes") {
		t.Errorf("answered %q, want a -32600 naming the limit", errs.String())
	}
}

// An overlong message's answer carries its id, wherever the id stands:
// with id null, the TypeScript SDK (whose requests put the id after the
// params) could not match it to its call and waited out its timeout
// (outside review).
func TestOverlongLineIsAnsweredWithItsID(t *testing.T) {
	big := strings.Repeat("x", 300)
	for _, c := range []struct{ line, want string }{
		{`{"jsonrpc":"2.0","method":"tools/call","params":{"id":"inner","text":"` + big + `"},"id":5}`, `"id":5`},
		{`{"jsonrpc":"2.0","id":"req-7","method":"tools/call","params":{"text":"` + big + `"}}`, `"id":"req-7"`},
		{`{"params":{"text":"a \"id\": 3 ` + big + `"}, "id" : 12 }`, `"id":12`},
		{`{"jsonrpc":"2.0","method":"x","params":{"text":"` + big + `"}}`, `"id":null`},
	} {
		var dst, errs bytes.Buffer
		if err := copyValidLines(strings.NewReader(c.line+"\n"), &dst, &errs, 100, nil); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(errs.String(), c.want) || !strings.Contains(errs.String(), `"code":-32600`) {
			t.Errorf("answered %q; want a -32600 with %s", errs.String(), c.want)
		}
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
		answer := checkLine(line, false, nil, 1<<20)
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

// TestNoAnswerToACancelledRequest: once the client cancels request 7,
// the go-sdk's answer to it is not written; other answers and
// notifications are.
func TestNoAnswerToACancelledRequest(t *testing.T) {
	var out bytes.Buffer
	w := &lockedWriter{w: &out}
	src := strings.NewReader(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"user"}}` + "\n")
	var dst bytes.Buffer
	if err := copyValidLines(src, &dst, w, 1<<20, w.cancelled); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dst.String(), "notifications/cancelled") {
		t.Errorf("the cancellation was not passed on: %q", dst.String())
	}
	for _, msg := range []string{
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":7}}`,
		`{"jsonrpc":"2.0","id":7,"result":{"content":[]}}`,
		`{"jsonrpc":"2.0","id":8,"result":{}}`,
		`{"jsonrpc":"2.0","id":7,"result":{}}`, // a later request that reused the id
	} {
		w.Write([]byte(msg + "\n"))
	}
	got := out.String()
	if strings.Contains(got, `"id":7,"result":{"content"`) {
		t.Errorf("the answer to cancelled request 7 was written:\n%s", got)
	}
	for _, want := range []string{"notifications/progress", `"id":8`, `{"jsonrpc":"2.0","id":7,"result":{}}`} {
		if !strings.Contains(got, want) {
			t.Errorf("%s was not written:\n%s", want, got)
		}
	}
}

// FuzzIDScanner: fed in any pieces, the scanner finds a JSON object's
// top-level id (a number or a string) as encoding/json reads it, and
// nothing in a line that has none.
func FuzzIDScanner(f *testing.F) {
	for _, s := range []string{`{"jsonrpc":"2.0","id":1,"method":"x"}`, `{"params":{"id":2},"id":"a\"b"}`, `{"id":{}}`,
		`{"a":"id","b":["id",{"id":3}],"id" : -4.5e1 }`, `{"i\u0064":5}`, `not json`, `{"id":`, `[{"id":1}]`, `{"id":1,"id":2}`, `{"id":1,"id":{}}`} {
		f.Add([]byte(s), 3)
	}
	f.Fuzz(func(t *testing.T, line []byte, cut int) {
		var s idScanner
		if cut < 0 || cut > len(line) {
			cut = len(line) / 2
		}
		s.feed(line[:cut])
		s.feed(line[cut:])
		var msg struct {
			ID json.RawMessage `json:"id"`
		}
		if !json.Valid(line) || bytes.TrimSpace(line)[0] != '{' || json.Unmarshal(line, &msg) != nil {
			return // what it finds in a line that is not an object is a guess, and harmless
		}
		var want any
		if msg.ID != nil && json.Unmarshal(msg.ID, &want) == nil {
			switch want.(type) {
			case float64, string:
			default:
				want = nil // not an id the scanner keeps
			}
		}
		if len(msg.ID) > maxIDLength || bytes.Contains(line, []byte(`\u`)) ||
			bytes.Count(bytes.ToLower(line), []byte(`"id"`)) != bytes.Count(line, []byte(`"id"`)) {
			return // a long id is not kept; an escaped name is not read; JSON-RPC's "id" is "id", where encoding/json takes "iD" too
		}
		var got any
		if s.id != nil {
			json.Unmarshal(s.id, &got)
		}
		if got != want {
			t.Errorf("found id %s (%v); encoding/json reads %s (%v)", s.id, got, msg.ID, want)
		}
	})
}
