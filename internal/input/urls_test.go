package input

import (
	"testing"
)

func TestURLs(t *testing.T) {
	input := "# the list\n" +
		"https://a.example/x\n" +
		"\n" +
		"  http://b.example/y?q=1#f  \n" +
		"/v1/items?page=2\n" +
		"ftp://c.example/\n" +
		"example.com/x\n" +
		"//c.example/x\n" +
		"http:///nohost\n" +
		"https://a.example/two words\n" +
		"http://[::1\n" +
		"HTTPS://A.EXAMPLE/Z\n"
	got := readAll(t, input, Options{Format: FormatURLs, BaseURL: "https://base.example/api/"})
	checkResults(t, got, []any{
		Item{ID: "https://a.example/x", Line: 2, Method: "GET", URL: "https://a.example/x"},
		Item{ID: "http://b.example/y?q=1#f", Line: 4, Method: "GET", URL: "http://b.example/y?q=1#f"},
		Item{ID: "/v1/items?page=2", Line: 5, Method: "GET", URL: "https://base.example/api/v1/items?page=2"},
		BadLine{Line: 6, Reason: `unsupported URL scheme "ftp" (want http or https)`},
		BadLine{Line: 7, Reason: `URL "example.com/x" is neither absolute (http://...) nor a path starting with "/"`},
		BadLine{Line: 8, Reason: `URL "//c.example/x" has no scheme (want http or https)`},
		BadLine{Line: 9, Reason: `URL "http:///nohost" has no host`},
		BadLine{Line: 10, Reason: `URL "https://a.example/two words" contains white space`},
		BadLine{Line: 11, Reason: `bad URL "http://[::1": missing ']' in host`},
		Item{ID: "HTTPS://A.EXAMPLE/Z", Line: 12, Method: "GET", URL: "HTTPS://A.EXAMPLE/Z"},
	})
}

func TestURLsRelativeWithoutBase(t *testing.T) {
	got := readAll(t, "https://a.example/\n/x\nhttps://a.example/after\n", Options{Format: FormatURLs})
	checkResults(t, got, []any{
		Item{ID: "https://a.example/", Line: 1, Method: "GET", URL: "https://a.example/"},
		BadLine{Line: 2, Reason: `relative URL "/x" needs --base-url`},
		Item{ID: "https://a.example/after", Line: 3, Method: "GET", URL: "https://a.example/after"},
	})
}

func TestURLsBadLineReasonIsExact(t *testing.T) {
	got := readAll(t, "/x\n", Options{Format: FormatURLs})
	if len(got) != 1 || got[0] != (BadLine{Line: 1, Reason: `relative URL "/x" needs --base-url`}) {
		t.Errorf("got:%s\nwant exactly: line 1: relative URL \"/x\" needs --base-url", show(got))
	}
}

// TestURLsPasswordIsNotInTheID protects a password written in a URL from
// landing in the results file, the errors file and the progress output as
// part of the id; the request still carries it.
func TestURLsPasswordIsNotInTheID(t *testing.T) {
	got := readAll(t, "https://user:s3cret@a.example/x\nhttps://user@a.example/y\n", Options{Format: FormatURLs})
	checkResults(t, got, []any{
		Item{ID: "https://user:xxxxx@a.example/x", Line: 1, Method: "GET", URL: "https://user:s3cret@a.example/x"},
		Item{ID: "https://user@a.example/y", Line: 2, Method: "GET", URL: "https://user@a.example/y"},
	})
}
