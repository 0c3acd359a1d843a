package input

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"unicode/utf8"
)

var lineIDTests = []struct {
	name   string
	line   string
	want   string
	wantOK bool
}{
	{"http string id", `{"id":"a1","status":200,"body":"x"}`, "a1", true},
	{"urls number id", `{"id":7,"status":200}`, "7", true},
	{"negative number", `{"id":-12}`, "-12", true},
	{"big integer kept exact", `{"id":123456789012345678901234567890}`, "123456789012345678901234567890", true},
	{"exponent in decimal", `{"id":1e3}`, "1000", true},
	{"fraction", `{"id":2.50}`, "2.5", true},
	{"openai result", `{"id":"batch_req_9","custom_id":"req-1","response":{"status_code":200,"body":{"id":"chatcmpl-1"}},"error":null}`, "req-1", true},
	{"custom_id before id", `{"custom_id":"req-2","id":"batch_req_9"}`, "req-2", true},
	{"anthropic result", `{"custom_id":"my-1","result":{"type":"succeeded","message":{"id":"msg_1","content":[{"type":"text","text":"}{\"id\":"}]}}}`, "my-1", true},
	{"id after nested values", `{"a":[1,{"id":"inner"},"]"],"b":{"c":"\"}"},"id":"outer"}`, "outer", true},
	{"escaped value", `{"id":"a\"b\\c\u00e9"}`, "a\"b\\cé", true},
	{"escaped key", `{"custom\u005fid":"k"}`, "k", true},
	{"whitespace everywhere", " \t{ \"id\" :\r\n \"w\" } \n", "w", true},
	{"last duplicate wins", `{"id":"first","id":"second"}`, "second", true},
	{"custom_id decides even when null", `{"id":"x","custom_id":null}`, "", false},
	{"key match is exact", `{"ID":"x","Custom_ID":"y"}`, "", false},
	{"nested id only", `{"result":{"id":"x"}}`, "", false},
	{"no id", `{"status":200}`, "", false},
	{"empty object", `{}`, "", false},
	{"empty id", `{"id":""}`, "", false},
	{"null id", `{"id":null}`, "", false},
	{"bool id", `{"id":true}`, "", false},
	{"object id", `{"id":{"x":1}}`, "", false},
	{"array line", `[{"id":"x"}]`, "", false},
	{"string line", `"id"`, "", false},
	{"torn line", `{"id":"x","body":"abc`, "", false},
	{"trailing garbage", `{"id":"x"} y`, "", false},
	{"empty", ``, "", false},
}

func TestLineID(t *testing.T) {
	for _, tt := range lineIDTests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := LineID([]byte(tt.line))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("LineID(%s) = %q, %v; want %q, %v", tt.line, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// FuzzLineID checks that LineID never panics and agrees with a decoding by
// encoding/json.
func FuzzLineID(f *testing.F) {
	for _, tt := range lineIDTests {
		f.Add([]byte(tt.line))
	}
	f.Add([]byte("{\"id\":\"\xff\xfe\"}"))
	f.Fuzz(func(t *testing.T, line []byte) {
		got, ok := LineID(line)
		ValidLineID(line) // must not panic on anything either
		want, wantOK := lineIDOracle(line)
		if got != want || ok != wantOK {
			t.Errorf("LineID(%q) = %q, %v; want %q, %v", line, got, ok, want, wantOK)
		}
	})
}

// lineIDOracle is LineID written with encoding/json, slowly.
func lineIDOracle(line []byte) (string, bool) {
	if !json.Valid(line) {
		return "", false
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(line, &top) != nil {
		return "", false
	}
	raw, ok := top["custom_id"]
	if !ok {
		if raw, ok = top["id"]; !ok {
			return "", false
		}
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, v != "" && utf8.ValidString(v)
	case json.Number:
		s := v.String()
		if isJSONInteger([]byte(s)) {
			return s, true
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return s, true
		}
		return strconv.FormatFloat(f, 'f', -1, 64), true
	}
	return "", false
}

func BenchmarkLineID(b *testing.B) {
	line := []byte(`{"id":"batch_req_1","custom_id":"request-1","response":{"status_code":200,"request_id":"r","body":{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"` + string(bytes.Repeat([]byte("lorem ipsum "), 100)) + `"}}]}},"error":null}`)
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, ok := LineID(line); !ok {
			b.Fatal("no id")
		}
	}
}
