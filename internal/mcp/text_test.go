package mcp

import (
	"strings"
	"testing"
)

func TestReportText(t *testing.T) {
	rep := Report{
		Summary:    Summary{Handle: "f3", State: stateDone, Total: 3, Succeeded: 1, Failed: 2, Elapsed: 0.5, Rate: 6, ByStatus: map[string]int{"200": 1, "404": 1}, ByError: map[string]int{"http_4xx": 1, "refused": 1}},
		NextOffset: 3,
		Items: []ItemReport{
			{Index: 0, ID: "1", Method: "GET", URL: "https://a.example/", OK: true, Status: 200, ContentType: "text/plain", Size: 5000, Text: "line one\nline two", MoreFrom: 1000},
			{Index: 1, ID: "2", Method: "GET", URL: "https://a.example/x", Status: 404, Size: 9, ErrorClass: "http_4xx", Error: "404 Not Found", Text: "not found"},
			{Index: 2, ID: "3", Method: "GET", URL: "http://127.0.0.1/", ErrorClass: "refused", Error: "refused: 127.0.0.1 is a loopback address"},
		},
	}
	got := rep.text()
	for _, want := range []string{
		"handle f3: done; 3 items: 1 succeeded, 2 failed; 0.50s, 6.0 items/s\n",
		"by status: 200×1 404×1\n",
		"by error: http_4xx×1 refused×1\n",
		"items 0 to 2 (more: get_results handle=f3 offset=3):\n",
		"[0] id=1 GET https://a.example/ → 200 text/plain, 5000 bytes\n    line one\n    line two\n    … (1000 of 5000 bytes shown; more: get_results handle=f3 offset=0 limit=1 start_index=1000)\n",
		"[1] id=2 GET https://a.example/x → failed: 404 Not Found (no content type, 9 bytes)\n    not found\n",
		"[2] id=3 GET http://127.0.0.1/ → failed (refused): refused: 127.0.0.1 is a loopback address\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("text lacks %q; got:\n%s", want, got)
		}
	}
}

// The text's hint to the next page carries every argument that made the
// list: following "offset=3" alone, an agent that asked for failed items
// read all of them from the wrong place (outside review).
func TestReportTextHintKeepsThePagesArguments(t *testing.T) {
	rep := Report{
		Summary: Summary{Handle: "f1", State: stateDone, Total: 30, Succeeded: 20, Failed: 10},
		Offset:  0, NextOffset: 3, Filter: "failed", limit: 3, maxLength: 200,
		Items: []ItemReport{
			{Index: 0, ID: "1", Method: "GET", URL: "https://a.example/0", Status: 400, Size: 900, Text: "bad", MoreFrom: 200},
			{Index: 3, ID: "4", Method: "GET", URL: "https://a.example/3", Status: 400, Size: 3, Text: "bad"},
			{Index: 6, ID: "7", Method: "GET", URL: "https://a.example/6", Status: 400, Size: 3, Text: "bad"},
		},
	}
	got := rep.text()
	for _, want := range []string{
		"(more: get_results handle=f1 offset=3 filter=failed limit=3 max_length=200)",
		// The item's own hint is by its index among all items: no filter.
		"more: get_results handle=f1 offset=0 limit=1 start_index=200 max_length=200)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("text lacks %q; got:\n%s", want, got)
		}
	}
}

func TestTextOfCutsAtCharacters(t *testing.T) {
	r := result{contentType: "text/plain; charset=utf-8", body: []byte("héllo wörld")}
	tests := []struct {
		start, max int
		want       string
		more       int
	}{
		{0, 100, "héllo wörld", 0},
		{0, 2, "h", 1},   // "é" is two bytes: not cut in half
		{2, 3, "llo", 6}, // start inside "é" moves to the next character
		{0, 3, "hé", 3},
		{50, 10, "", 0},
		// max_length shorter than the character at start: the character
		// whole, never nothing with more_from where it began, which a
		// client following more_from looped on for ever (outside review).
		{1, 1, "é", 3},
		{8, 1, "ö", 10},
	}
	for _, tc := range tests {
		text, more, binary := textOf(r, tc.start, tc.max)
		if text != tc.want || more != tc.more || binary {
			t.Errorf("textOf(%d, %d) = %q, %d, %v; want %q, %d", tc.start, tc.max, text, more, binary, tc.want, tc.more)
		}
	}
	if _, _, binary := textOf(result{contentType: "image/png", body: []byte{0x89, 'P', 'N', 'G'}}, 0, 10); !binary {
		t.Error("a PNG was shown as text")
	}
	if text, _, binary := textOf(result{body: []byte(`{"a":1}`)}, 0, 10); binary || text != `{"a":1}` {
		t.Errorf("a body without a content type but valid UTF-8: %q, binary %v", text, binary)
	}
}

// TestTextOfDecodesTheDeclaredCharset: a page in Latin-1, Windows-1252 or
// Shift_JIS reaches the agent as the characters it says, not U+FFFD for
// every byte above 127 (outside review: "caf� na�ve © 2024").
func TestTextOfDecodesTheDeclaredCharset(t *testing.T) {
	for _, tc := range []struct {
		contentType string
		body        string
		start, max  int
		want        string
		more        int
	}{
		{"text/html; charset=iso-8859-1", "<p>caf\xe9 na\xefve \xa9 2024</p>", 0, 100, "<p>café naïve © 2024</p>", 0},
		{"text/plain; charset=windows-1252", "\x93quoted\x94 \x80", 0, 100, "\u201cquoted\u201d €", 0},
		{"text/plain; charset=ISO-8859-1", "caf\xe9 au lait", 0, 4, "café", 4},
		{"text/plain; charset=Shift_JIS", "\x82\xa0\x82\xa2", 0, 100, "あい", 0},
		{"text/plain; charset=utf-8", "café", 0, 100, "café", 0},
		{"text/plain; charset=no-such-charset", "caf\xe9", 0, 100, "caf\uFFFD", 0},
	} {
		r := result{contentType: tc.contentType, body: []byte(tc.body)}
		text, more, binary := textOf(r, tc.start, tc.max)
		if text != tc.want || more != tc.more || binary {
			t.Errorf("%s %q [%d:+%d] = %q, %d, %v; want %q, %d", tc.contentType, tc.body, tc.start, tc.max, text, more, binary, tc.want, tc.more)
		}
	}
}
