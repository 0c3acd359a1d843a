package input

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzBodyRoundTrip holds every shape's results line to its body: a body
// that is not valid UTF-8 comes back, byte for byte, from the line's
// "body_base64"; one that is comes back from "body" (or "message") as
// before, and the line has no "body_base64". The line is valid UTF-8 and
// valid JSON either way.
func FuzzBodyRoundTrip(f *testing.F) {
	for _, s := range []string{"", "café", "caf\xe9", "\x89PNG\r\n\x1a\n\x00\xff", "\x1f\x8b\x08\x00", `{"a":"x\xffy"}`, `{"a":1}`, "\xe2\x80", "a\x00b"} {
		f.Add([]byte(s))
	}
	it := Item{ID: "r1", Metadata: json.RawMessage(`{"k":"v"}`)}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, format := range []Format{FormatHTTP, FormatOpenAI, FormatAnthropic} {
			line := ShapeOf(format).AppendResultLine(nil, it, Response{Status: 200, Body: body, Fingerprint: 1})
			if !utf8.Valid(line) || !json.Valid(line) {
				t.Fatalf("%s: line not valid UTF-8 JSON: %q", format, line)
			}
			holder := map[Format]func([]byte) map[string]json.RawMessage{
				FormatHTTP:      func(l []byte) map[string]json.RawMessage { return members(t, l) },
				FormatOpenAI:    func(l []byte) map[string]json.RawMessage { return members(t, members(t, l)["response"]) },
				FormatAnthropic: func(l []byte) map[string]json.RawMessage { return members(t, members(t, l)["result"]) },
			}[format](line)
			b64, binary := holder[base64Member]
			if binary != !utf8.Valid(body) {
				t.Fatalf("%s: body %q: body_base64 present %v; want it exactly when the body is not UTF-8", format, body, binary)
			}
			if !binary {
				continue
			}
			if _, text := holder["body"]; text {
				t.Fatalf("%s: both body and body_base64", format)
			}
			var s string
			if err := json.Unmarshal(b64, &s); err != nil {
				t.Fatal(err)
			}
			got, err := base64.StdEncoding.DecodeString(s)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("%s: body_base64 decodes to %q, %v; want %q", format, got, err, body)
			}
		}
	})
}

func members(t *testing.T, obj []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Fatalf("%q: %v", obj, err)
	}
	return m
}
