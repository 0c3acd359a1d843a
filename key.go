package sluice

import (
	"bytes"
	"encoding/json"
	"net/http"
	"unicode/utf8"
)

// KeyByModel is a Transport.Key for the LLM APIs, which limit each model
// separately (Anthropic and OpenAI both do): it returns the request's host,
// a slash and the "model" member of its JSON body, such as
// "api.anthropic.com/claude-haiku-4-5", so that each model is paced by its
// own gate, learns its own headers and is paused by its own 429s. A request
// whose body names no model (no body, not a JSON object, no string "model"
// member) gets its host alone, as with no Key.
//
// The body is read through req.GetBody, never from req.Body, so the
// request is left as it was. http.NewRequest sets GetBody for in-memory
// bodies, as the Anthropic and OpenAI SDKs do; for a body without it the
// Transport lends the copy it keeps to retry, so RoundTrip always finds
// the model, except in a body larger than Transport.MaxBodyBuffer.
//
// Cost: one copy of the body into a pooled buffer and a scan of its
// top-level members up to "model", skipping nested values without
// decoding them: linear in the body's size, about 1.6µs and 4 small
// allocations for a 1 KiB body with "model" last (BenchmarkKeyByModel),
// against the milliseconds of the call. A key written with escapes
// ("mod\u0065l") is not recognised; of repeated "model" members the first
// counts. Safe for concurrent use.
func KeyByModel(req *http.Request) string {
	host := hostKey(req.URL)
	if req.GetBody == nil {
		return host
	}
	rc, err := req.GetBody()
	if err != nil || rc == nil || rc == http.NoBody {
		return host
	}
	defer rc.Close()
	data, pooled, err := bodyBytes(rc)
	if pooled != nil {
		defer putBodyBuffer(pooled)
	}
	if err != nil {
		return host
	}
	model, ok := topLevelString(data, "model")
	if !ok || model == "" {
		return host
	}
	return host + "/" + model
}

// topLevelString returns the string value of the top-level member name of
// the JSON object in data, scanning rather than decoding: the members
// before it are skipped, nested values by counting brackets outside
// strings. It reports false when data is not an object that has the member
// as a string; malformed JSON is not diagnosed, just not matched.
func topLevelString(data []byte, name string) (string, bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return "", false
	}
	i++
	for {
		i = skipSpace(data, i)
		if i >= len(data) || data[i] != '"' {
			return "", false // the end of the object, or not JSON
		}
		keyEnd := skipString(data, i)
		if keyEnd < 0 {
			return "", false
		}
		key := data[i+1 : keyEnd-1]
		i = skipSpace(data, keyEnd)
		if i >= len(data) || data[i] != ':' {
			return "", false
		}
		i = skipSpace(data, i+1)
		end := skipValue(data, i)
		if end < 0 {
			return "", false
		}
		if string(key) == name {
			if data[i] != '"' {
				return "", false
			}
			raw := data[i:end]
			if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
				return string(raw[1 : len(raw)-1]), true
			}
			var s string // escapes or bad UTF-8: rare enough to decode as json does
			if json.Unmarshal(raw, &s) != nil {
				return "", false
			}
			return s, true
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ',' {
			return "", false
		}
		i++
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the JSON string starting at
// data[i] (a quote), or -1 when it does not end.
func skipString(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index just past the JSON value starting at data[i],
// or -1 when it does not end.
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				j = skipString(data, j)
				if j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	// A number, true, false or null: up to the next delimiter.
	j := i
	for j < len(data) && data[j] != ',' && data[j] != '}' && data[j] != ']' && data[j] != ' ' && data[j] != '\t' && data[j] != '\n' && data[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
