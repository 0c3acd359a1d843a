package input

import (
	"bytes"
)

// streamRefused says why a batch line's request asks to be streamed, or
// returns "". The Batch APIs refuse "stream": true, and the runner stores
// a response whole: a streamed one would be stored as its raw server-sent
// events instead of the message. Only a body that mentions "stream" at
// all is parsed again, so the common line costs one bytes.Contains.
func streamRefused(body []byte) string {
	if !bytes.Contains(body, []byte(`"stream"`)) {
		return ""
	}
	m, reason := jsonObject(body, nil)
	if reason != "" {
		return "" // the caller checked it is an object
	}
	if v := m.get("stream"); v != nil && string(trimJSONSpace(v)) == "true" {
		return `"stream": true is not supported in batch lines (the Batch APIs refuse it too): remove it, the whole response is stored`
	}
	return ""
}
