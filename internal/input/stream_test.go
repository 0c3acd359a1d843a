package input

import (
	"encoding/json"
	"testing"
)

// TestBatchLinesRefuseStream protects against storing a streamed
// response's raw server-sent events as the message: "stream": true in a
// batch line is a bad line, as the Batch APIs make it.
func TestBatchLinesRefuseStream(t *testing.T) {
	const why = `"stream": true is not supported in batch lines (the Batch APIs refuse it too): remove it, the whole response is stored`
	checkLines(t, Options{Format: FormatOpenAI, BaseURL: "https://api.openai.example"}, []lineCase{
		{name: "stream true", line: `{"custom_id":"a","url":"/v1/chat/completions","body":{"model":"m","stream": true}}`, bad: "body: " + why},
		{name: "stream false", line: `{"custom_id":"b","url":"/v1/x","body":{"stream":false}}`,
			want: Item{ID: "b", Method: "POST", URL: "https://api.openai.example/v1/x", Body: []byte(`{"stream":false}`), Raw: json.RawMessage(`{"stream":false}`)}},
		{name: "stream nested", line: `{"custom_id":"c","url":"/v1/x","body":{"metadata":{"stream":true}}}`,
			want: Item{ID: "c", Method: "POST", URL: "https://api.openai.example/v1/x", Body: []byte(`{"metadata":{"stream":true}}`), Raw: json.RawMessage(`{"metadata":{"stream":true}}`)}},
	})
	checkLines(t, Options{Format: FormatAnthropic, BaseURL: "https://api.anthropic.example"}, []lineCase{
		{name: "stream true", line: `{"custom_id":"a","params":{"stream":true,"max_tokens":5}}`, bad: "params: " + why},
		{name: "stream false", line: `{"custom_id":"b","params":{"stream":false}}`,
			want: Item{ID: "b", Method: "POST", URL: "https://api.anthropic.example/v1/messages", Body: []byte(`{"stream":false}`), Raw: json.RawMessage(`{"stream":false}`)}},
	})
}
