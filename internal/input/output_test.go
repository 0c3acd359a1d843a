package input

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// The errors and results lines of each shape, exactly (issue 10, items 8,
// 10 and 13).
func TestShapeLines(t *testing.T) {
	apiErr := []byte(`{"error":{"message":"no <model>","type":"invalid_request_error","param":"model","code":null}}`)
	antErr := []byte(`{"type":"error","error":{"type":"rate_limit_error","message":"slow down"},"request_id":"req_1"}`)
	meta := json.RawMessage(`{"k":"<v>"}`)
	withResp := Failure{Class: "fatal", Status: 404, Message: "no <model>", Attempts: 1, Body: apiErr, RequestID: "req_9"}
	noResp := Failure{Class: "transient", Message: "connection refused", Attempts: 3}
	it := Item{ID: "a<1>", Line: 4, Metadata: meta}
	openaiID := `"id":"` + batchRequestID("a<1>") + `"`
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"openai answered", openAIShape{}.ErrorLine(it, withResp),
			`{` + openaiID + `,"custom_id":"a<1>","response":{"status_code":404,"request_id":"req_9","body":` + string(apiErr) + `},"error":null,"sluice":{"class":"fatal","status":404,"message":"no <model>","attempts":1,"line":4},"metadata":{"k":"<v>"}}`},
		{"openai no answer", openAIShape{}.ErrorLine(Item{ID: "b", Line: 2}, noResp),
			`{"id":"` + batchRequestID("b") + `","custom_id":"b","response":null,"error":{"code":"transient","message":"connection refused"},"sluice":{"class":"transient","message":"connection refused","attempts":3,"line":2}}`},
		{"openai bad line", openAIShape{}.BadLineLine(BadLine{Line: 7, Reason: "missing url"}),
			`{"id":null,"custom_id":null,"response":null,"error":{"code":"invalid_request","message":"line 7: missing url","line":7},"sluice":{"class":"bad_line","message":"missing url","attempts":0,"line":7}}`},
		{"openai bad line with its id", openAIShape{}.BadLineLine(BadLine{Line: 7, Reason: "missing url", ID: "c<1>"}),
			`{"id":null,"custom_id":"c<1>","response":null,"error":{"code":"invalid_request","message":"line 7: missing url","line":7},"sluice":{"class":"bad_line","message":"missing url","attempts":0,"line":7}}`},
		{"anthropic answered", anthropicShape{}.ErrorLine(Item{ID: "m", Line: 1}, Failure{Class: "throttled", Status: 429, Message: "slow down", Attempts: 9, Body: antErr}),
			`{"custom_id":"m","result":{"type":"errored","error":` + string(antErr) + `},"sluice":{"class":"throttled","status":429,"message":"slow down","attempts":9,"line":1}}`},
		{"anthropic HTML answer", anthropicShape{}.ErrorLine(Item{ID: "m", Line: 1}, Failure{Class: "transient", Status: 502, Message: "502 Bad Gateway", Attempts: 1, Body: []byte("<html>bad gateway</html>")}),
			`{"custom_id":"m","result":{"type":"errored","error":{"type":"error","error":{"type":"api_error","message":"502 Bad Gateway"}}},"sluice":{"class":"transient","status":502,"message":"502 Bad Gateway","attempts":1,"line":1}}`},
		{"anthropic no answer", anthropicShape{}.ErrorLine(Item{ID: "m", Line: 1}, noResp),
			`{"custom_id":"m","result":{"type":"errored","error":{"type":"error","error":{"type":"transient","message":"connection refused"}}},"sluice":{"class":"transient","message":"connection refused","attempts":3,"line":1}}`},
		{"anthropic bad line", anthropicShape{}.BadLineLine(BadLine{Line: 3, Reason: "missing params"}),
			`{"custom_id":null,"result":{"type":"errored","error":{"type":"error","error":{"type":"invalid_request_error","message":"line 3: missing params"}}},"sluice":{"class":"bad_line","message":"missing params","attempts":0,"line":3}}`},
		{"anthropic bad line with its id", anthropicShape{}.BadLineLine(BadLine{Line: 3, Reason: "missing params", ID: "q"}),
			`{"custom_id":"q","result":{"type":"errored","error":{"type":"error","error":{"type":"invalid_request_error","message":"line 3: missing params"}}},"sluice":{"class":"bad_line","message":"missing params","attempts":0,"line":3}}`},
		{"http answered", httpShape{}.ErrorLine(Item{ID: "020", Line: 2, Metadata: meta}, withResp),
			`{"id":"020","line":2,"class":"fatal","status":404,"message":"no <model>","attempts":1,"body":` + string(apiErr) + `,"metadata":{"k":"<v>"}}`},
		{"http numeric id", httpShape{}.ErrorLine(Item{ID: "10", Line: 2, NumberID: true}, noResp),
			`{"id":10,"line":2,"class":"transient","message":"connection refused","attempts":3}`},
		{"http string id that looks like a number", httpShape{}.AppendResultLine(nil, Item{ID: "10"}, Response{Status: 200, Body: []byte("a<b"), Attempts: 1}),
			`{"id":"10","status":200,"body":"a<b","attempts":1,"elapsed_ms":0}`},
		{"http bad line", httpShape{}.BadLineLine(BadLine{Line: 5, Reason: "missing url"}),
			`{"id":null,"line":5,"class":"bad_line","message":"missing url","attempts":0}`},
		{"http bad line with its id", httpShape{}.BadLineLine(BadLine{Line: 5, Reason: "missing url", ID: "7"}),
			`{"id":"7","line":5,"class":"bad_line","message":"missing url","attempts":0}`},
		{"http repeated id", httpShape{}.BadLineLine(BadLine{Line: 5, Reason: `repeated id "7" (first on line 1)`, RepeatedID: "7"}),
			`{"id":null,"line":5,"class":"bad_line","message":"repeated id \"7\" (first on line 1)","attempts":0,"repeated_id":"7"}`},
		{"openai repeated id", openAIShape{}.BadLineLine(BadLine{Line: 5, Reason: "repeated", RepeatedID: "c"}),
			`{"id":null,"custom_id":null,"response":null,"error":{"code":"invalid_request","message":"line 5: repeated","line":5},"sluice":{"class":"bad_line","message":"repeated","attempts":0,"line":5,"repeated_id":"c"}}`},
		{"anthropic repeated id", anthropicShape{}.BadLineLine(BadLine{Line: 5, Reason: "repeated", RepeatedID: "q"}),
			`{"custom_id":null,"result":{"type":"errored","error":{"type":"error","error":{"type":"invalid_request_error","message":"line 5: repeated"}}},"sluice":{"class":"bad_line","message":"repeated","attempts":0,"line":5,"repeated_id":"q"}}`},
		{"http error body cut", httpShape{}.ErrorLine(Item{ID: "a", Line: 2}, Failure{Class: "transient", Status: 500, Message: "m", Attempts: 1, Body: []byte("<html>"), BodyTruncated: true}),
			`{"id":"a","line":2,"class":"transient","status":500,"message":"m","attempts":1,"body_truncated":true,"body":"<html>"}`},
		{"anthropic error body cut", anthropicShape{}.ErrorLine(Item{ID: "m", Line: 1}, Failure{Class: "transient", Status: 500, Message: "m", Attempts: 1, Body: []byte("<html>"), BodyTruncated: true}),
			`{"custom_id":"m","result":{"type":"errored","error":{"type":"error","error":{"type":"api_error","message":"m"}}},"sluice":{"class":"transient","status":500,"message":"m","attempts":1,"line":1,"body_truncated":true}}`},
		{"anthropic result with metadata", anthropicShape{}.AppendResultLine(nil, it, Response{Status: 200, Body: []byte(`{"content":"<b>"}`)}),
			`{"custom_id":"a<1>","result":{"type":"succeeded","message":{"content":"<b>"}},"metadata":{"k":"<v>"}}`},
		// A body that is not UTF-8, JSON or not, goes losslessly as
		// base64 where its JSON would go (body.go): here {"a":"x\xffy"}.
		{"http result, JSON with a byte that is not UTF-8", httpShape{}.AppendResultLine(nil, Item{ID: "u"}, Response{Status: 200, Body: []byte("{\"a\":\"x\xffy\"}"), Attempts: 1}),
			`{"id":"u","status":200,"body_base64":"eyJhIjoieP95In0=","attempts":1,"elapsed_ms":0}`},
		{"anthropic result, JSON with a byte that is not UTF-8", anthropicShape{}.AppendResultLine(nil, Item{ID: "u"}, Response{Status: 200, Body: []byte("{\"a\":\"\xff\"}")}),
			`{"custom_id":"u","result":{"type":"succeeded","body_base64":"eyJhIjoi/yJ9"}}`},
		{"openai result, not UTF-8", openAIShape{}.AppendResultLine(nil, Item{ID: "u"}, Response{Status: 200, RequestID: "q", Body: []byte("caf\xe9")}),
			`{"id":"` + batchRequestID("u") + `","custom_id":"u","response":{"status_code":200,"request_id":"q","body_base64":"Y2Fm6Q=="},"error":null}`},
		{"openai error, JSON with a byte that is not UTF-8", openAIShape{}.ErrorLine(Item{ID: "u", Line: 1}, Failure{Class: "fatal", Status: 400, Message: "m", Attempts: 1, Body: []byte("{\"a\":\"\xff\"}")}),
			`{"id":"` + batchRequestID("u") + `","custom_id":"u","response":{"status_code":400,"request_id":"","body_base64":"eyJhIjoi/yJ9"},"error":null,"sluice":{"class":"fatal","status":400,"message":"m","attempts":1,"line":1}}`},
		{"http error, not UTF-8", httpShape{}.ErrorLine(Item{ID: "e", Line: 3}, Failure{Class: "fatal", Status: 404, Message: "m", Attempts: 1, Body: []byte("caf\xe9")}),
			`{"id":"e","line":3,"class":"fatal","status":404,"message":"m","attempts":1,"body_base64":"Y2Fm6Q=="}`},
		{"http result, UTF-8 text as before", httpShape{}.AppendResultLine(nil, Item{ID: "t"}, Response{Status: 200, Body: []byte("café <b>\n"), Attempts: 1, Fingerprint: 0xab}),
			`{"id":"t","status":200,"body":"café <b>\n","attempts":1,"elapsed_ms":0,"sluice":{"fp":"00000000000000ab"}}`},
		{"openai result, empty body as before", openAIShape{}.AppendResultLine(nil, Item{ID: "u"}, Response{Status: 204}),
			`{"id":"` + batchRequestID("u") + `","custom_id":"u","response":{"status_code":204,"request_id":"","body":""},"error":null}`},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tc.name, tc.got, tc.want)
		}
		if !utf8.Valid(tc.got) {
			t.Errorf("%s: not UTF-8: %q", tc.name, tc.got)
		}
		if !json.Valid(tc.got) || strings.Contains(string(tc.got), "\n") {
			t.Errorf("%s: not one line of valid JSON: %s", tc.name, tc.got)
		}
	}
}

// A "metadata" member must be an object; it is kept as given (compacted).
func TestMetadataMember(t *testing.T) {
	for _, tc := range []struct {
		line, want, bad string
	}{
		{`{"url":"https://a.example/","metadata":{"a": [1, "<x>"]}}`, `{"a":[1,"<x>"]}`, ""},
		{`{"url":"https://a.example/","metadata":null}`, "", ""},
		{`{"url":"https://a.example/","metadata":"x"}`, "", "metadata must be a JSON object"},
		{`{"custom_id":"c","params":{},"metadata":{"b":2}}`, `{"b":2}`, ""},
		{`{"custom_id":"c","url":"/v1/x","body":{},"metadata":{"c":3}}`, `{"c":3}`, ""},
		{`{"custom_id":"c","params":{},"metadata":[1]}`, "", "metadata must be a JSON object"},
	} {
		got := readAll(t, tc.line+"\n", Options{BaseURL: "https://api.example"})
		if len(got) != 1 {
			t.Fatalf("%s: %d results", tc.line, len(got))
		}
		switch g := got[0].(type) {
		case Item:
			if tc.bad != "" || string(g.Metadata) != tc.want {
				t.Errorf("%s: metadata %s; want %q, bad %q", tc.line, g.Metadata, tc.want, tc.bad)
			}
		case BadLine:
			if tc.bad == "" || !strings.Contains(g.Reason, tc.bad) {
				t.Errorf("%s: bad line %q; want %q", tc.line, g.Reason, tc.bad)
			}
		}
	}
}

// Ids stand for numbers only when they are line numbers or JSON numbers;
// a URL list's ids are its URLs.
func TestNumberID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		opts Options
		want []bool
	}{
		{"https://a.example/\n", Options{}, []bool{false}},
		{`{"url":"https://a.example/"}` + "\n" + `{"id":7,"url":"https://a.example/"}` + "\n" + `{"id":"7","url":"https://a.example/"}` + "\n", Options{}, []bool{true, true, false}},
		{"id,url\n10,https://a.example/\n", Options{}, []bool{false}},
		{"url,x\nhttps://a.example/,1\n", Options{}, []bool{true}},
	} {
		got := readAll(t, tc.in, tc.opts)
		for i, g := range got {
			if it, ok := g.(Item); !ok || i >= len(tc.want) || it.NumberID != tc.want[i] {
				t.Errorf("%q: result %d = %+v; want NumberID %v", tc.in, i, g, tc.want)
			}
		}
	}
}
