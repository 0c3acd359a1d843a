package input

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// lineCase is one input line and what it must give: an item (its Line is
// filled in; an ID of "1" stands for the line number) or a bad line whose
// reason contains bad.
type lineCase struct {
	name string
	line string
	want Item
	bad  string
}

// checkLines reads each case's line alone, then all the lines together,
// so that every good line is seen to come through after a bad one.
func checkLines(t *testing.T, opts Options, cases []lineCase) {
	t.Helper()
	var all []string
	var wantAll []any
	for i, tc := range cases {
		var want any = BadLine{Line: 1, Reason: tc.bad}
		wantLine := tc.want
		if tc.bad == "" {
			wantLine.Line = 1
			want = wantLine
		}
		t.Run(tc.name, func(t *testing.T) {
			checkResults(t, readAll(t, tc.line+"\n", opts), []any{want})
		})
		all = append(all, tc.line)
		if tc.bad == "" {
			if tc.want.ID == "1" { // the id is the line number
				wantLine.ID = strconv.Itoa(i + 1)
			}
			wantLine.Line = i + 1
			wantAll = append(wantAll, wantLine)
		} else {
			wantAll = append(wantAll, BadLine{Line: i + 1, Reason: tc.bad})
		}
	}
	t.Run("all lines", func(t *testing.T) {
		checkResults(t, readAll(t, strings.Join(all, "\n"), opts), wantAll)
	})
}

func TestHTTP(t *testing.T) {
	opts := Options{Format: FormatHTTP, BaseURL: "https://api.example"}
	get := func(id, url string) Item { return Item{ID: id, Method: "GET", URL: url} }
	checkLines(t, opts, []lineCase{
		{name: "url only", line: `{"url":"https://a.example/x"}`, want: get("1", "https://a.example/x")},
		{name: "string id", line: `{"id":"a7","url":"https://a.example/x"}`, want: get("a7", "https://a.example/x")},
		{name: "integer id", line: `{"id":42,"url":"https://a.example/x"}`, want: get("42", "https://a.example/x")},
		{name: "exponent id", line: `{"id":1e3,"url":"https://a.example/x"}`, want: get("1000", "https://a.example/x")},
		{name: "fraction id", line: `{"id":2.50,"url":"https://a.example/x"}`, want: get("2.5", "https://a.example/x")},
		{name: "negative id", line: `{"id":-7,"url":"https://a.example/x"}`, want: get("-7", "https://a.example/x")},
		{name: "null id", line: `{"id":null,"url":"https://a.example/x"}`, want: get("1", "https://a.example/x")},
		{name: "relative url", line: `{"url":"/v1/x?y=1"}`, want: get("1", "https://api.example/v1/x?y=1")},
		{name: "space around", line: "  {\"url\" : \"https://a.example/\" }\t", want: get("1", "https://a.example/")},
		{name: "object body", line: `{"id":"b","url":"https://a.example/","body":{"a": [1, 2], "b": "x y"}}`,
			want: Item{ID: "b", Method: "POST", URL: "https://a.example/", Body: []byte(`{"a":[1,2],"b":"x y"}`)}},
		{name: "string body is sent as is", line: `{"url":"https://a.example/","body":"a=1&b=\"2\"\n"}`,
			want: Item{ID: "1", Method: "POST", URL: "https://a.example/", Body: []byte("a=1&b=\"2\"\n")}},
		{name: "empty string body", line: `{"url":"https://a.example/","body":""}`,
			want: Item{ID: "1", Method: "POST", URL: "https://a.example/", Body: []byte{}}},
		{name: "number body", line: `{"url":"https://a.example/","body":12.0}`,
			want: Item{ID: "1", Method: "POST", URL: "https://a.example/", Body: []byte("12.0")}},
		{name: "array body", line: `{"url":"https://a.example/","body":[ true , null ]}`,
			want: Item{ID: "1", Method: "POST", URL: "https://a.example/", Body: []byte("[true,null]")}},
		{name: "null body", line: `{"url":"https://a.example/","body":null}`, want: get("1", "https://a.example/")},
		{name: "method", line: `{"method":"put","url":"https://a.example/","body":{}}`,
			want: Item{ID: "1", Method: "PUT", URL: "https://a.example/", Body: []byte("{}")}},
		{name: "GET with a body", line: `{"method":"GET","url":"https://a.example/","body":"q"}`,
			want: Item{ID: "1", Method: "GET", URL: "https://a.example/", Body: []byte("q")}},
		{name: "DELETE", line: `{"method":"DELETE","url":"https://a.example/1"}`,
			want: Item{ID: "1", Method: "DELETE", URL: "https://a.example/1"}},
		{name: "headers", line: `{"url":"https://a.example/","headers":{"x-trace":"1","Accept":["a/b","c/d"],"X-Empty":""}}`,
			want: Item{ID: "1", Method: "GET", URL: "https://a.example/", Header: http.Header{
				"X-Trace": {"1"}, "Accept": {"a/b", "c/d"}, "X-Empty": {""}}}},
		{name: "empty headers", line: `{"url":"https://a.example/","headers":{}}`, want: get("1", "https://a.example/")},
		{name: "escaped member name", line: `{"\u0075rl":"https://a.example/"}`, want: get("1", "https://a.example/")},

		{name: "truncated", line: `{"url":"https://a.example/"`, bad: "invalid JSON: unexpected end of input (after byte 27)"},
		{name: "bad character", line: `{"url":x}`, bad: "invalid JSON: invalid character 'x' looking for beginning of value (at byte 8)"},
		{name: "trailing data", line: `{"url":"https://a.example/"} {}`, bad: "invalid JSON: invalid character '{' after top-level value (at byte 30)"},
		{name: "array", line: `["https://a.example/"]`, bad: "not a JSON object but an array"},
		{name: "string", line: `"https://a.example/"`, bad: "not a JSON object but a string"},
		{name: "number", line: `12`, bad: "not a JSON object but a number"},
		{name: "null", line: `null`, bad: "not a JSON object but null"},
		{name: "repeated member", line: `{"url":"https://a.example/","id":1,"url":"https://b.example/"}`, bad: `repeated field "url"`},
		{name: "unknown member", line: `{"url":"https://a.example/","header":{"a":"b"}}`, bad: `unknown field "header" (want id, method, url, headers, body, metadata)`},
		{name: "missing url", line: `{"id":"a"}`, bad: "missing url"},
		{name: "null url", line: `{"url":null}`, bad: "missing url"},
		{name: "empty url", line: `{"url":""}`, bad: "empty url"},
		{name: "url not a string", line: `{"url":["https://a.example/"]}`, bad: "url must be a string"},
		{name: "scheme", line: `{"url":"file:///etc/passwd"}`, bad: `unsupported URL scheme "file"`},
		{name: "empty id", line: `{"id":"","url":"https://a.example/"}`, bad: "empty id"},
		{name: "object id", line: `{"id":{},"url":"https://a.example/"}`, bad: "id must be a string or a number"},
		{name: "bool id", line: `{"id":true,"url":"https://a.example/"}`, bad: "id must be a string or a number"},
		{name: "method not a string", line: `{"method":1,"url":"https://a.example/"}`, bad: "method must be a string"},
		{name: "method not a token", line: `{"method":"GET /","url":"https://a.example/"}`, bad: `bad method "GET /": not an HTTP token`},
		{name: "unsupported method", line: `{"method":"TRACE","url":"https://a.example/"}`, bad: `unsupported method "TRACE" (want GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS)`},
		{name: "empty method", line: `{"method":"","url":"https://a.example/"}`, bad: "empty method"},
		{name: "headers not an object", line: `{"url":"https://a.example/","headers":["a"]}`, bad: "headers must be an object of strings"},
		{name: "header value a number", line: `{"url":"https://a.example/","headers":{"a":1}}`, bad: `headers must be an object of strings (header "a")`},
		{name: "header array of numbers", line: `{"url":"https://a.example/","headers":{"a":["b",1]}}`, bad: `headers must be an object of strings (header "a")`},
		{name: "header array with null", line: `{"url":"https://a.example/","headers":{"a":[null]}}`, bad: `headers must be an object of strings (header "a")`},
		{name: "header name", line: `{"url":"https://a.example/","headers":{"a b":"c"}}`, bad: `bad header name "a b"`},
		{name: "header line break", line: `{"url":"https://a.example/","headers":{"a":"b\r\nX-Evil: 1"}}`, bad: `header "a" has a control character or line break`},
	})
}

// Exact reasons, as the runner will print them.
func TestHTTPReasonsExact(t *testing.T) {
	for _, tc := range []struct{ line, want, id string }{
		{`{"url":`, "invalid JSON: unexpected end of input (after byte 7)", ""},
		{`{"id":"a"}`, "missing url", "a"},
		{`{"url":"/x"}`, `relative URL "/x" needs --base-url`, ""},
	} {
		got := readAll(t, tc.line, Options{Format: FormatHTTP})
		if len(got) != 1 || got[0] != (BadLine{Line: 1, Reason: tc.want, ID: tc.id}) {
			t.Errorf("%s:\ngot:%s\nwant exactly: line 1: %s", tc.line, show(got), tc.want)
		}
	}
}

// An id that is a number must read back the same from a results line, or
// a resumed run would not recognise the item as done.
func TestHTTPNumberIDMatchesLineID(t *testing.T) {
	for _, num := range []string{"7", "-0", "1e3", "2.50", "1E-2", "123456789012345678901234567890", "1e400", "0.1e1"} {
		got := readAll(t, `{"id":`+num+`,"url":"https://a.example/"}`, Options{Format: FormatHTTP})
		it, ok := got[0].(Item)
		if !ok {
			t.Errorf("id %s:%s", num, show(got))
			continue
		}
		back, ok := LineID([]byte(`{"id":` + num + `}`))
		if !ok || back != it.ID {
			t.Errorf("id %s: the reader says %q, LineID says %q, %v", num, it.ID, back, ok)
		}
	}
}

func TestHTTPSkipsBlankAndCommentLines(t *testing.T) {
	input := "\n   \n# a note\n" + `{"url":"https://a.example/"}` + "\n\n"
	checkResults(t, readAll(t, input, Options{Format: FormatHTTP}), []any{
		Item{ID: "4", Line: 4, Method: "GET", URL: "https://a.example/"},
	})
}
