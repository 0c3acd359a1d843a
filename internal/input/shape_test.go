package input

import "testing"

func TestBodyJSON(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"a":1}`, `{"a":1}`},
		{"{\"a\":1}\n", `{"a":1}`}, // the newline most APIs end with
		{"{\"a\": [1, 2],\n \"b\": \"c d\"}", `{"a":[1,2],"b":"c d"}`}, // compacted, strings kept
		{` 42 `, `42`},
		{`not json`, `"not json"`},
		{"", `""`},
		{"bad \xff utf-8", "\"bad \uFFFD utf-8\""},
	} {
		if got := string(bodyJSON([]byte(tc.body))); got != tc.want {
			t.Errorf("bodyJSON(%q) = %s, want %s", tc.body, got, tc.want)
		}
	}
}

func TestIDJSON(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"42", `42`},
		{"-5", `-5`},
		{"0", `0`},
		{"007", `"007"`},
		{"+5", `"+5"`},
		{"-0", `"-0"`},
		{"9223372036854775808", `"9223372036854775808"`}, // beyond int64: kept as text
		{`a"b`, `"a\"b"`},
	} {
		if got := string(appendIDJSON([]byte("x"), tc.id)); got != "x"+tc.want {
			t.Errorf("appendIDJSON(x, %q) = %s, want x%s", tc.id, got, tc.want)
		}
	}
}
