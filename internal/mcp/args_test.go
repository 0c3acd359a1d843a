package mcp

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestArgumentErrorsReadPlainly: a wrong argument gets a tool error that
// names it and says what it wants, in words, not Go's.
func TestArgumentErrorsReadPlainly(t *testing.T) {
	_, cs := session(t, Config{AllowPrivate: true}, nil)
	rep, _ := callTool(t, cs, "fetch_many", map[string]any{"urls": []string{"http://127.0.0.1:1/x"}, "background": true})
	h := rep.Summary.Handle
	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"fetch_many", map[string]any{"urls": []any{"http://a.example/", "http://b.example/", "http://c.example/", nil}}, "urls[3]: want a string, got null"},
		{"fetch_many", map[string]any{"urls": "http://a.example/"}, "urls: want an array, got a string"},
		{"fetch_many", map[string]any{"urls": []any{"http://a.example/"}, "page_size": 2.5}, "page_size: want a whole number from 0 to 100, got 2.5"},
		{"fetch_many", map[string]any{"requests": []any{map[string]any{"url": 7}}}, "requests[0].url: want a string, got a number"},
		{"fetch_many", map[string]any{"requests": []any{"http://a.example/"}}, "requests[0]: want an object"},
		{"fetch_many", map[string]any{"url": "http://a.example/"}, "url: unknown argument; want background, max_length, page_size, requests, time_budget_seconds, urls"},
		{"fetch_many", map[string]any{"urls": []any{"http://a.example/"}, "background": "yes"}, "background: want true or false, got a string"},
		{"get_results", map[string]any{"handle": h, "offset": json.RawMessage("1e300")}, "offset: want a whole number from 0 to 2147483647, got 1e300"},
		{"get_results", map[string]any{"handle": h, "offset": -1}, "offset: want a whole number from 0"},
		{"get_results", map[string]any{"handle": h, "limit": 1000}, "limit: want a whole number from 0 to 100, got 1000"},
		{"get_results", map[string]any{"handle": 5}, "handle: want a string, got a number"},
		{"get_results", map[string]any{}, "handle: required"},
		{"cancel", map[string]any{"handle": nil}, "handle: required"},
	} {
		res, err := callErr(t.Context(), cs, tc.tool, tc.args)
		if err != nil {
			t.Errorf("%s %v: %v", tc.tool, tc.args, err)
			continue
		}
		got := textOfResult(res)
		if !res.IsError || !strings.Contains(got, tc.want) {
			t.Errorf("%s %v: error %v %q, want %q", tc.tool, tc.args, res.IsError, got, tc.want)
		}
		for _, goSpeak := range []string{"reflect", "Go struct", "json:", "unmarshal"} {
			if strings.Contains(got, goSpeak) {
				t.Errorf("%s %v: %q speaks Go (%s)", tc.tool, tc.args, got, goSpeak)
			}
		}
	}
}

// TestFilterSchemaListsItsValues: get_results' filter is an enum in its
// input schema, so that a client can check it before calling.
func TestFilterSchemaListsItsValues(t *testing.T) {
	_, cs := session(t, Config{}, nil)
	tools, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools.Tools {
		if tool.Name != "get_results" {
			continue
		}
		raw, _ := json.Marshal(tool.InputSchema)
		var s struct {
			Properties map[string]struct {
				Enum []string `json:"enum"`
			} `json:"properties"`
			Required []string `json:"required"`
		}
		json.Unmarshal(raw, &s)
		if e := s.Properties["filter"].Enum; len(e) != 2 || e[0] != "ok" || e[1] != "failed" {
			t.Errorf("filter's enum %v, want [ok failed]; schema %s", e, raw)
		}
		if len(s.Required) != 1 || s.Required[0] != "handle" {
			t.Errorf("required %v, want [handle]", s.Required)
		}
		return
	}
	t.Fatal("no get_results tool")
}

// FuzzDecodeArgs: any arguments either decode or fail with a message in
// words, never a panic or Go's unmarshal text.
func FuzzDecodeArgs(f *testing.F) {
	for _, s := range []string{`{"urls":["a",null]}`, `{"offset":1e300}`, `{"requests":[{"url":"x","id":{}}]}`, `[]`, `null`, `{"handle":"f1","limit":0}`} {
		f.Add([]byte(s))
	}
	known := []string{"background", "handle", "limit", "max_length", "offset", "page_size", "requests", "start_index", "time_budget_seconds", "urls"}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		a, err := parseArgs(raw, known)
		if err == nil {
			decodeFetchMany(a)
			decodeGetResults(a)
			err = a.err
		}
		if err != nil && (strings.Contains(err.Error(), "json:") || strings.Contains(err.Error(), "reflect")) {
			t.Fatalf("%s: %v", raw, err)
		}
	})
}

// TestInputSchemasGiveOneTypePerArgument: no argument is typed "null or
// T". The MCP Inspector's CLI turns a command-line value into JSON only
// for "array" and "object", so with ["null","array"] fetch_many's urls
// and requests could not be passed at all (outside review).
func TestInputSchemasGiveOneTypePerArgument(t *testing.T) {
	_, cs := session(t, Config{}, nil)
	tools, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(tool, where string, s map[string]any)
	walk = func(tool, where string, s map[string]any) {
		if ty, ok := s["type"].([]any); ok {
			t.Errorf("%s: %s has the types %v, want one", tool, where, ty)
		}
		if props, ok := s["properties"].(map[string]any); ok {
			for name, p := range props {
				if p, ok := p.(map[string]any); ok {
					walk(tool, where+"."+name, p)
				}
			}
		}
		if items, ok := s["items"].(map[string]any); ok {
			walk(tool, where+"[]", items)
		}
	}
	for _, tool := range tools.Tools {
		raw, _ := json.Marshal(tool.InputSchema)
		var s map[string]any
		json.Unmarshal(raw, &s)
		walk(tool.Name, "arguments", s)
		if tool.Name == "fetch_many" {
			urls, _ := s["properties"].(map[string]any)["urls"].(map[string]any)
			if urls["type"] != "array" {
				t.Errorf("fetch_many's urls are typed %v, want array", urls["type"])
			}
		}
	}
}
