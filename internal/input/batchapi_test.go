package input

import (
	"encoding/json"
	"testing"
)

func TestOpenAI(t *testing.T) {
	opts := Options{Format: FormatOpenAI, BaseURL: "https://api.openai.example/"}
	post := func(id, url, body, raw string) Item {
		return Item{ID: id, Method: "POST", URL: url, Body: []byte(body), Raw: json.RawMessage(raw)}
	}
	checkLines(t, opts, []lineCase{
		{name: "chat", line: `{"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m", "messages": [{"role": "user", "content": "hi"}]}}`,
			want: post("r1", "https://api.openai.example/v1/chat/completions",
				`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
				`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)},
		{name: "no method", line: `{"custom_id":"r2","url":"/v1/embeddings","body":{"input":"x"}}`,
			want: post("r2", "https://api.openai.example/v1/embeddings", `{"input":"x"}`, `{"input":"x"}`)},
		{name: "lower-case post", line: `{"custom_id":"r3","method":"post","url":"/v1/x","body":{}}`,
			want: post("r3", "https://api.openai.example/v1/x", `{}`, `{}`)},

		{name: "missing custom_id", line: `{"method":"POST","url":"/v1/x","body":{}}`, bad: "missing custom_id"},
		{name: "null custom_id", line: `{"custom_id":null,"url":"/v1/x","body":{}}`, bad: "missing custom_id"},
		{name: "number custom_id", line: `{"custom_id":1,"url":"/v1/x","body":{}}`, bad: "custom_id must be a string"},
		{name: "empty custom_id", line: `{"custom_id":"","url":"/v1/x","body":{}}`, bad: "empty custom_id"},
		{name: "GET", line: `{"custom_id":"a","method":"GET","url":"/v1/x","body":{}}`, bad: `method "GET": OpenAI batch requests must be POST`},
		{name: "method number", line: `{"custom_id":"a","method":1,"url":"/v1/x","body":{}}`, bad: "method must be a string"},
		{name: "missing url", line: `{"custom_id":"a","body":{}}`, bad: "missing url"},
		{name: "url not a string", line: `{"custom_id":"a","url":1,"body":{}}`, bad: "url must be a string"},
		{name: "absolute url", line: `{"custom_id":"a","url":"https://x.example/v1/x","body":{}}`, bad: `url "https://x.example/v1/x" must be a path starting with "/"`},
		{name: "url without slash", line: `{"custom_id":"a","url":"v1/x","body":{}}`, bad: `url "v1/x" must be a path starting with "/"`},
		{name: "url with white space", line: `{"custom_id":"a","url":"/v1/a b","body":{}}`, bad: "contains white space"},
		{name: "missing body", line: `{"custom_id":"a","url":"/v1/x"}`, bad: "missing body"},
		{name: "body a string", line: `{"custom_id":"a","url":"/v1/x","body":"{}"}`, bad: "body must be a JSON object"},
		{name: "body an array", line: `{"custom_id":"a","url":"/v1/x","body":[]}`, bad: "body must be a JSON object"},
		{name: "unknown member", line: `{"custom_id":"a","url":"/v1/x","body":{},"params":{}}`, bad: `unknown field "params" (want custom_id, method, url, body, metadata)`},
		{name: "invalid JSON", line: `{"custom_id":"a",`, bad: "invalid JSON: unexpected end of input (after byte 17)"},
	})
}

func TestAnthropic(t *testing.T) {
	opts := Options{Format: FormatAnthropic, BaseURL: "http://127.0.0.1:8787/anthropic"}
	checkLines(t, opts, []lineCase{
		{name: "message", line: `{"custom_id":"q-1","params":{ "model" : "claude", "max_tokens": 64, "messages": [{"role":"user","content":"Hi"}] }}`,
			want: Item{ID: "q-1", Method: "POST", URL: "http://127.0.0.1:8787/anthropic/v1/messages",
				Body: []byte(`{"model":"claude","max_tokens":64,"messages":[{"role":"user","content":"Hi"}]}`),
				Raw:  json.RawMessage(`{"model":"claude","max_tokens":64,"messages":[{"role":"user","content":"Hi"}]}`)}},
		{name: "any id", line: `{"params":{},"custom_id":"id with spaces/and ünïcode"}`,
			want: Item{ID: "id with spaces/and ünïcode", Method: "POST", URL: "http://127.0.0.1:8787/anthropic/v1/messages",
				Body: []byte(`{}`), Raw: json.RawMessage(`{}`)}},

		{name: "missing custom_id", line: `{"params":{}}`, bad: "missing custom_id"},
		{name: "custom_id an object", line: `{"custom_id":{},"params":{}}`, bad: "custom_id must be a string"},
		{name: "missing params", line: `{"custom_id":"a"}`, bad: "missing params"},
		{name: "null params", line: `{"custom_id":"a","params":null}`, bad: "missing params"},
		{name: "params a string", line: `{"custom_id":"a","params":"x"}`, bad: "params must be a JSON object"},
		{name: "unknown member", line: `{"custom_id":"a","params":{},"url":"/v1/x"}`, bad: `unknown field "url" (want custom_id, params, metadata)`},
		{name: "repeated custom_id", line: `{"custom_id":"a","custom_id":"b","params":{}}`, bad: `repeated field "custom_id"`},
		{name: "not an object", line: `[{"custom_id":"a","params":{}}]`, bad: "not a JSON object but an array"},
	})
}
