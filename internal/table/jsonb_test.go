package table

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestJSONBSafe(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{`{"a":1}`, true},
		{`"\u0000"`, false},
		{`"\\u0000"`, true}, // an escaped backslash, then text
		{`"\ud83d\ude00"`, true},
		{`"\ud83d"`, false},
		{`"\ude00"`, false},
		{`"\ud83d\u0041"`, false},
		{`"\ud83dx"`, false},
		{`["\ud83d", 1]`, false},
		{`1e999`, true},
		{`1e1001`, false},
		{`-1.5E-1001`, false},
		{`{"hash":"e12345678901"}`, true}, // an e in a string is not an exponent
		{`[true,false,null,1.5e3]`, true},
		{`"é \n \" \/"`, true},
	} {
		if !json.Valid([]byte(c.in)) {
			t.Fatalf("%s is not valid JSON", c.in)
		}
		if got := jsonbSafe([]byte(c.in)); got != c.want {
			t.Errorf("jsonbSafe(%s) = %v, want %v", c.in, got, c.want)
		}
	}
}

// FuzzJSONBSafe: never panics, and never refuses JSON that has neither a
// \u escape nor an exponent (the only things jsonb refuses in valid JSON,
// apart from numbers thousands of digits long).
func FuzzJSONBSafe(f *testing.F) {
	for _, s := range []string{`{"a":"\ud83d\ude00"}`, `"\u0000"`, `[1e5,2E-7]`, `{"k":[1,2,{"x":null}]}`, `"\\\\u0000"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		safe := jsonbSafe(b)
		if !bytes.Contains(b, []byte(`\u`)) && !bytes.ContainsAny(b, "eE") && len(b) < 1000 && !safe {
			t.Errorf("jsonbSafe(%q) = false for JSON without escapes or exponents", b)
		}
	})
}

// TestJSONBFixed: what jsonb refuses is mended where it has text for it
// (NUL, a lone surrogate: U+FFFD), numbers kept as written, and refused
// still where it has none (a number beyond numeric's range).
func TestJSONBFixed(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{`{"m":"x\u0000y","n":12.50}`, "{\"m\":\"x\uFFFDy\",\"n\":12.50}", true},
		{`{"k\u0000":["\ud800",1]}`, "{\"k\uFFFD\":[\"\uFFFD\",1]}", true},
		{`{"n":1e999999}`, "", false},
	} {
		got, ok := jsonbFixed([]byte(c.in))
		if ok != c.ok || (ok && string(got) != c.want) {
			t.Errorf("jsonbFixed(%s) = %s, %v; want %s, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
