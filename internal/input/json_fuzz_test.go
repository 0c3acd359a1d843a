package input

import (
	"bytes"
	"encoding/json"
	"maps"
	"testing"
	"unicode/utf8"
)

// FuzzJSONObject checks jsonObject's member walk against encoding/json: on
// every valid UTF-8 input it refuses what json.Unmarshal refuses, and
// otherwise returns the same members with the same values, or names a
// member given twice exactly when there is one.
func FuzzJSONObject(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { } `, `{"a":1}`, `{"id":"x","url":"/a","body":{"q":[1,{"r":"}"}]}}`,
		`{"a":1,"a":2}`, `{"\u0069d":1,"id":2}`, `{"a":"\"}\\"}`, `{"a" : [ ] , "b" :null}`,
		`[1]`, `null`, `{"a":}`, `{"a":1,}`, "\t{\"a\":true}\r",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if !utf8.Valid(line) { // the reader refuses these before parsing
			return
		}
		got, reason := jsonObject(line, nil)
		var want map[string]json.RawMessage
		err := json.Unmarshal(line, &want)
		switch {
		case err != nil || want == nil:
			if reason == "" {
				t.Fatalf("jsonObject(%q) accepted what json.Unmarshal refuses (%v)", line, err)
			}
			return
		case countNames(t, line) != len(want):
			if reason == "" {
				t.Fatalf("jsonObject(%q) missed a repeated member", line)
			}
			return
		case reason != "":
			t.Fatalf("jsonObject(%q) = %q, want the members %v", line, reason, want)
		}
		gotMap := map[string]json.RawMessage{}
		for _, m := range got {
			gotMap[m.name] = m.raw
		}
		if len(got) != len(want) || !maps.EqualFunc(gotMap, want, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) {
			t.Fatalf("jsonObject(%q) = %q, want %q", line, got, want)
		}
	})
}

// countNames counts the member names of a valid JSON object with a
// decoder, which does not merge repeated names.
func countNames(t *testing.T, line []byte) int {
	dec := json.NewDecoder(bytes.NewReader(line))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for dec.More() {
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// FuzzJSONCompact checks jsonCompact, with its shortcut for values that
// are compact already, against json.Compact.
func FuzzJSONCompact(f *testing.F) {
	for _, s := range []string{`{"a": 1}`, `{"a":"b c"}`, `[1,2]`, `"x\" y"`, "{\"a\":\n1}", `1`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want bytes.Buffer
		if json.Compact(&want, raw) != nil || len(raw) == 0 || raw[0] == ' ' || raw[len(raw)-1] == ' ' {
			return // jsonCompact is given valid values as the walk cut them
		}
		if got := jsonCompact(raw); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("jsonCompact(%q) = %q, want %q", raw, got, want.Bytes())
		}
	})
}
