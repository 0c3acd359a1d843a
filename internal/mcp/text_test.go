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
