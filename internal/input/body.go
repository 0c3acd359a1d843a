package input

import (
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"
)

// A body that is not valid UTF-8 (a Latin-1 or Shift_JIS page, a PNG, a
// gzip body the caller asked for with its own Accept-Encoding) cannot be
// a JSON string without losing bytes: encoding/json, and every strict
// reader, would have them U+FFFD. Its line carries it as "body_base64"
// instead, the standard base64 (RFC 4648, padded) of the bytes as
// received, in the place "body" would have (the batch shapes' "body" of
// "response", or "message" of an Anthropic result). A body that is valid
// UTF-8, nearly every API's, is written as before, at no extra cost: the
// one utf8.Valid scan is the one bodyJSON made.

// base64Member is the name of the member that carries, in base64, a body
// that is not valid UTF-8.
const base64Member = "body_base64"

// isBinary reports whether r's body goes into its line as base64.
func isBinary(r Response) bool { return r.BodyBase64 || !utf8.Valid(r.Body) }

// appendBase64JSON appends r's body as the JSON string of its base64: the
// body encoded straight into b, or r.Body as it is when r.BodyBase64 says
// it is that string already.
func appendBase64JSON(b []byte, r Response) []byte {
	if r.BodyBase64 {
		return append(b, r.Body...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, r.Body)
	return append(b, '"')
}

// lineBody is a body for a shape that builds its line with encoding/json:
// text is the body as JSON (bodyJSON) when it is valid UTF-8, b64 the
// JSON string of its base64 otherwise; the other is nil, and omitted
// (omitempty).
func lineBody(r Response) (text, b64 json.RawMessage) {
	if isBinary(r) {
		return nil, appendBase64JSON(nil, r)
	}
	return textJSON(r.Body), nil
}

// failureBody is lineBody for an errors line's answer: nil, nil when
// there was none.
func failureBody(f Failure) (text, b64 json.RawMessage) {
	if f.Body == nil {
		return nil, nil
	}
	return lineBody(Response{Body: f.Body})
}
