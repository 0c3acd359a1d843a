package mcp

import (
	"mime"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
)

// charsetDecoder returns a decoder to UTF-8 for a text body whose content
// type names another charset (Latin-1, Windows-1252, Shift_JIS...), nil
// for UTF-8, for none, and for a charset it does not know (those bodies
// are shown as UTF-8, bad bytes replaced). Without it a Latin-1 page lost
// every accented letter to U+FFFD on its way to the agent (outside
// review).
func charsetDecoder(contentType string) *encoding.Decoder {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil
	}
	name := strings.ToLower(strings.TrimSpace(params["charset"]))
	if name == "" || name == "utf-8" || name == "utf8" || name == "us-ascii" {
		return nil
	}
	enc, err := htmlindex.Get(name)
	if err != nil {
		return nil
	}
	if n, _ := htmlindex.Name(enc); n == "utf-8" {
		return nil
	}
	return enc.NewDecoder()
}

// decodedText is textOf for a body in another charset: maxLen bytes of
// the body from start, decoded. Offsets stay the body's own bytes, as
// Size and more_from count them; a character of a multi-byte charset cut
// at either end shows as U+FFFD.
func decodedText(dec *encoding.Decoder, body []byte, start, maxLen int) (text string, more int, binary bool) {
	end := min(len(body), start+maxLen)
	if end < len(body) {
		more = end
	}
	out, err := dec.Bytes(body[start:end])
	if err != nil {
		return strings.ToValidUTF8(string(body[start:end]), "\uFFFD"), more, false
	}
	return strings.ToValidUTF8(string(out), "\uFFFD"), more, false
}
