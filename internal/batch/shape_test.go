package batch

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
