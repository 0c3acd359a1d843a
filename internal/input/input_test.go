package input

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads input to the end and returns what Next gave, in order:
// an Item or a BadLine each.
func readAll(t *testing.T, input string, opts Options) []any {
	t.Helper()
	r, err := NewReader(strings.NewReader(input), opts)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	return drain(t, r)
}

func drain(t *testing.T, r *Reader) []any {
	t.Helper()
	var got []any
	for {
		it, err := r.Next()
		var bad *BadLine
		switch {
		case err == io.EOF:
			return got
		case errors.As(err, &bad):
			got = append(got, *bad)
		case err != nil:
			t.Fatalf("Next: %v", err)
		default:
			if it.parsedURL == nil || it.parsedURL.Host == "" {
				t.Fatalf("item on line %d: URL %q not kept parsed", it.Line, it.URL)
			}
			it.parsedURL = nil // the wanted items leave it out
			got = append(got, it)
		}
	}
}

// show formats readAll's results one a line, for messages.
func show(results []any) string {
	var b strings.Builder
	for _, r := range results {
		switch r := r.(type) {
		case Item:
			fmt.Fprintf(&b, "\n\titem line %d: id=%q %s %s header=%v body=%q raw=%q", r.Line, r.ID, r.Method, r.URL, r.Header, r.Body, r.Raw)
		case BadLine:
			fmt.Fprintf(&b, "\n\tbad %v", r)
		}
	}
	if b.Len() == 0 {
		return "\n\t(nothing)"
	}
	return b.String()
}

// checkResults compares readAll's results with want, whose BadLines match
// when the line is the same and the reason contains want's.
func checkResults(t *testing.T, got, want []any) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		switch w := want[i].(type) {
		case BadLine:
			g, isBad := got[i].(BadLine)
			ok = isBad && g.Line == w.Line && strings.Contains(g.Reason, w.Reason)
		default:
			// NumberID and Metadata have tests of their own
			// (output_test.go); the wanted items here leave them out.
			g, isItem := got[i].(Item)
			g.NumberID, g.Metadata = false, nil
			ok = isItem && reflect.DeepEqual(g, w)
		}
	}
	if !ok {
		t.Errorf("got:%s\nwant:%s", show(got), show(want))
	}
}

func TestParseFormat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Format
	}{
		{"", FormatAuto}, {"auto", FormatAuto}, {"urls", FormatURLs}, {"http", FormatHTTP},
		{"openai", FormatOpenAI}, {"anthropic", FormatAnthropic}, {" CSV ", FormatCSV},
	} {
		got, err := ParseFormat(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, nil", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"json", "url", "jsonl"} {
		if got, err := ParseFormat(in); err == nil || !strings.HasPrefix(err.Error(), "input: unknown input format") {
			t.Errorf("ParseFormat(%q) = %q, %v; want an unknown format error", in, got, err)
		}
	}
}

func TestBadLineError(t *testing.T) {
	var err error = &BadLine{Line: 12, Reason: "invalid JSON: unexpected end of input (after byte 3)"}
	if got, want := err.Error(), "line 12: invalid JSON: unexpected end of input (after byte 3)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestDetect(t *testing.T) {
	base := "https://api.example"
	for _, tc := range []struct {
		name  string
		input string
		base  string
		want  Format
	}{
		{"url", "https://a.example/x\n", "", FormatURLs},
		{"url after blanks and comments", "\n  \n# urls\n\thttp://a.example/\n", "", FormatURLs},
		{"url with a comma", "https://a.example/x?ids=1,2\n", "", FormatURLs},
		{"path with base", "/v1/x\n", base, FormatURLs},
		{"http", `{"url":"https://a.example/"}`, "", FormatHTTP},
		{"http with id", `{"id":1,"url":"/x"}` + "\n", base, FormatHTTP},
		{"http, invalid JSON", `{"url":` + "\n", "", FormatHTTP},
		{"custom_id alone is http", `{"custom_id":"a","method":"GET"}`, "", FormatHTTP},
		{"openai", `{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{}}`, base, FormatOpenAI},
		{"openai with body only", `{"custom_id":"a","body":{}}`, base, FormatOpenAI},
		{"openai with url only", `{"custom_id":"a","url":"/v1/embeddings"}`, base, FormatOpenAI},
		{"anthropic", `{"custom_id":"a","params":{"model":"m"}}`, base, FormatAnthropic},
		{"anthropic first", "\r\n" + `{"params":{},"custom_id":"a"}` + "\r\n", base, FormatAnthropic},
		{"csv", "id,url\n1,https://a.example/\n", "", FormatCSV},
		{"empty input", "", "", FormatURLs},
		{"only comments", "# nothing\n\n", "", FormatURLs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(strings.NewReader(tc.input), Options{BaseURL: tc.base})
			if err != nil {
				t.Fatalf("NewReader: %v", err)
			}
			if got := r.Format(); got != tc.want {
				t.Errorf("Format() = %q, want %q", got, tc.want)
			}
		})
	}
}

// The line detection looked at is read again, with its number.
func TestDetectKeepsTheLine(t *testing.T) {
	got := readAll(t, "# list\n\nhttps://a.example/1\nhttps://a.example/2", Options{})
	checkResults(t, got, []any{
		Item{ID: "https://a.example/1", Line: 3, Method: "GET", URL: "https://a.example/1"},
		Item{ID: "https://a.example/2", Line: 4, Method: "GET", URL: "https://a.example/2"},
	})
}

func TestDetectFails(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		opts        Options
		want        string
	}{
		{"plain words", "hello world\n", Options{}, "input: cannot tell the input's format; use --format"},
		{"path without base", "/v1/x\n", Options{}, "input: cannot tell the input's format; use --format"},
		{"host without scheme", "example.com/x\n", Options{}, "input: cannot tell the input's format; use --format"},
		{"first line over the cap", "# x\n" + strings.Repeat("a", 100) + "\n", Options{MaxLine: 50},
			"input: cannot tell the input's format: line 2 is over the 50 bytes cap; use --format"},
		{"template with JSON input", `{"url":"https://a.example/"}`, Options{Template: "{{.a}}"},
			"input: --template, --url, --method and --id-column are for csv input, and the input is http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(tc.input), tc.opts)
			if err == nil || err.Error() != tc.want {
				t.Errorf("NewReader error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestNewReaderOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"unknown format", Options{Format: "xml"}, `input: unknown input format "xml"`},
		{"negative MaxLine", Options{Format: FormatURLs, MaxLine: -1}, "input: MaxLine must not be negative"},
		{"relative base", Options{Format: FormatURLs, BaseURL: "/api"}, "must be an absolute http or https URL"},
		{"base with a space", Options{Format: FormatURLs, BaseURL: "https://a.example/a b"}, "must be an absolute http or https URL"},
		{"ftp base", Options{Format: FormatURLs, BaseURL: "ftp://a.example"}, "must be an absolute http or https URL"},
		{"base with query", Options{Format: FormatURLs, BaseURL: "https://a.example/?k=1"}, "must not have a query"},
		{"unparsable base", Options{Format: FormatURLs, BaseURL: "http://[::1"}, `input: base URL "http://[::1": missing ']' in host`},
		{"openai without base", Options{Format: FormatOpenAI}, "input: openai input needs a base URL"},
		{"anthropic without base", Options{Format: FormatAnthropic}, "input: anthropic input needs a base URL"},
		{"template for urls", Options{Format: FormatURLs, Template: "x"}, "are for csv input, and the input is urls"},
		{"bad template", Options{Format: FormatCSV, Template: "{{.a"}, "input: --template: body:1: unclosed action"},
		{"bad url template", Options{Format: FormatCSV, URL: "{{if}}"}, "input: --url: url:1: missing value for if"},
		{"bad method", Options{Format: FormatCSV, Method: "GE T"}, `input: --method: bad method "GE T": not an HTTP token`},
		{"unsupported method", Options{Format: FormatCSV, Method: "trace"}, `input: --method: unsupported method "TRACE"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader("a,url\n"), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewReader error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestLineEndings(t *testing.T) {
	want := []any{
		Item{ID: "https://a.example/1", Line: 1, Method: "GET", URL: "https://a.example/1"},
		Item{ID: "https://a.example/2", Line: 2, Method: "GET", URL: "https://a.example/2"},
	}
	for _, tc := range []struct{ name, input string }{
		{"LF", "https://a.example/1\nhttps://a.example/2\n"},
		{"CRLF", "https://a.example/1\r\nhttps://a.example/2\r\n"},
		{"no final line break", "https://a.example/1\nhttps://a.example/2"},
		{"CR before the end", "https://a.example/1\r\nhttps://a.example/2\r"},
		{"byte order mark", "\uFEFFhttps://a.example/1\nhttps://a.example/2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkResults(t, readAll(t, tc.input, Options{Format: FormatURLs}), want)
		})
	}
}

// A line the size of the read buffer and more is assembled whole.
func TestLinesLongerThanTheBuffer(t *testing.T) {
	long := "https://a.example/" + strings.Repeat("x", 3*inputBufSize)
	input := long + "\n" + long + "\r\nhttps://a.example/short\n" + long
	got := readAll(t, input, Options{Format: FormatURLs})
	checkResults(t, got, []any{
		Item{ID: long, Line: 1, Method: "GET", URL: long},
		Item{ID: long, Line: 2, Method: "GET", URL: long},
		Item{ID: "https://a.example/short", Line: 3, Method: "GET", URL: "https://a.example/short"},
		Item{ID: long, Line: 4, Method: "GET", URL: long},
	})
}

func TestLineOverTheCap(t *testing.T) {
	const max = 64
	fits := "https://a.example/" + strings.Repeat("x", max-len("https://a.example/"))
	over := fits + "y"
	for _, format := range []Format{FormatURLs, FormatHTTP} {
		t.Run(string(format), func(t *testing.T) {
			input := over + "\n" + fits + "\r\n" + over + "\r\n" + strings.Repeat("z", 5*inputBufSize) + "\n" + over
			got := readAll(t, input, Options{Format: format, MaxLine: max})
			want := []any{
				BadLine{Line: 1, Reason: "line over the 64 bytes cap"},
				BadLine{Line: 2}, // a URL, but not JSON
				BadLine{Line: 3, Reason: "line over the 64 bytes cap"},
				BadLine{Line: 4, Reason: "line over the 64 bytes cap"},
				BadLine{Line: 5, Reason: "line over the 64 bytes cap"},
			}
			if format == FormatURLs {
				want[1] = Item{ID: fits, Line: 2, Method: "GET", URL: fits}
			}
			checkResults(t, got, want)
		})
	}
}

func TestInvalidUTF8(t *testing.T) {
	input := "https://a.example/\xff\n" +
		"{\"id\":\"\xc3\",\"url\":\"https://a.example/\"}\n" +
		"# comments are not checked \xff\n" +
		"https://a.example/ok\n"
	got := readAll(t, input, Options{Format: FormatURLs})
	checkResults(t, got, []any{
		BadLine{Line: 1, Reason: "invalid UTF-8 at byte 19"},
		BadLine{Line: 2, Reason: "invalid UTF-8 at byte 8"},
		Item{ID: "https://a.example/ok", Line: 4, Method: "GET", URL: "https://a.example/ok"},
	})
}

// A read error stops the reader: Next returns it, wrapped, from then on.
func TestReadErrorIsSticky(t *testing.T) {
	boom := errors.New("disk on fire")
	in := io.MultiReader(strings.NewReader("https://a.example/1\nhttps://a.ex"), iotest.ErrReader(boom))
	r, err := NewReader(in, Options{Format: FormatURLs})
	if err != nil {
		t.Fatal(err)
	}
	if it, err := r.Next(); err != nil || it.URL != "https://a.example/1" {
		t.Fatalf("first Next = %+v, %v; want the first URL", it, err)
	}
	for range 2 {
		_, err := r.Next()
		if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "input: reading the input after line 1: ") {
			t.Errorf("Next error = %v, want the read error, wrapped", err)
		}
	}
}

// Reading the first line for detection does not lose a read error.
func TestDetectReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := NewReader(iotest.ErrReader(boom), Options{})
	if !errors.Is(err, boom) {
		t.Errorf("NewReader error = %v, want the read error", err)
	}
}

// Reading byte by byte crosses every boundary the line reader has.
func TestOneByteReads(t *testing.T) {
	input := "# x\r\n\r\n" + `{"id":"a","url":"https://a.example/","body":{"k":[1, 2]}}` + "\r\n" + `{"url":"/nope"}`
	r, err := NewReader(iotest.OneByteReader(strings.NewReader(input)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, drain(t, r), []any{
		Item{ID: "a", Line: 3, Method: "POST", URL: "https://a.example/", Body: []byte(`{"k":[1,2]}`)},
		BadLine{Line: 4, Reason: `relative URL "/nope" needs --base-url`},
	})
}

func TestQuoteInputShortens(t *testing.T) {
	long := strings.Repeat("é", 100)
	got := quoteInput(long)
	if !strings.HasSuffix(got, `"...`) || len(got) > maxQuoted+10 {
		t.Errorf("quoteInput(100 × é) = %s, want at most %d bytes then ...", got, maxQuoted)
	}
}

// The sample inputs in testdata/input are detected and read without a bad
// line.
func TestSampleInputs(t *testing.T) {
	for _, tc := range []struct {
		file   string
		opts   Options
		format Format
		ids    []string
	}{
		{"urls.txt", Options{}, FormatURLs, []string{"https://example.com/", "https://example.com/about", "https://example.org/search?q=rate+limits", "https://example.net/a/b/c"}},
		{"http.jsonl", Options{}, FormatHTTP, []string{"get-1", "put-2", "3", "4"}},
		{"openai.jsonl", Options{BaseURL: "https://api.openai.com"}, FormatOpenAI, []string{"request-1", "request-2", "embed-1"}},
		{"anthropic.jsonl", Options{BaseURL: "https://api.anthropic.com"}, FormatAnthropic, []string{"my-first-request", "my-second-request"}},
		{"prompts.csv", Options{
			BaseURL:  "https://api.anthropic.com",
			URL:      "/v1/messages",
			Template: `{"model":{{json .model}},"max_tokens":256,"messages":[{"role":"user","content":{{json .prompt}}}]}`,
		}, FormatCSV, []string{"q1", "q2", "q3"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "input", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := NewReader(f, tc.opts)
			if err != nil {
				t.Fatalf("NewReader: %v", err)
			}
			if r.Format() != tc.format {
				t.Errorf("Format() = %q, want %q", r.Format(), tc.format)
			}
			var ids []string
			for _, res := range drain(t, r) {
				switch res := res.(type) {
				case BadLine:
					t.Errorf("%v", res)
				case Item:
					ids = append(ids, res.ID)
					if res.Body != nil && strings.HasSuffix(tc.file, "csv") && !json.Valid(res.Body) {
						t.Errorf("line %d: body %s is not JSON", res.Line, res.Body)
					}
				}
			}
			if !reflect.DeepEqual(ids, tc.ids) {
				t.Errorf("ids %q, want %q", ids, tc.ids)
			}
		})
	}
}

// Options.Check turns the items it refuses into bad lines, with their
// line and id, in the line formats and csv alike.
func TestOptionsCheckMakesBadLines(t *testing.T) {
	check := func(it Item) string {
		if it.ID == "b" {
			return "no b"
		}
		return ""
	}
	for _, tc := range []struct {
		name, input string
		opts        Options
	}{
		{"http", `{"id":"a","url":"/a"}` + "\n" + `{"id":"b","url":"/b"}` + "\n" + `{"id":"c","url":"/c"}` + "\n", Options{}},
		{"csv", "id,url\na,/a\nb,/b\nc,/c\n", Options{Format: FormatCSV}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.BaseURL, opts.Check = "https://a.example", check
			var got []string
			for _, r := range readAll(t, tc.input, opts) {
				switch r := r.(type) {
				case BadLine:
					got = append(got, fmt.Sprintf("bad %d %s: %s", r.Line, r.ID, r.Reason))
				case Item:
					got = append(got, fmt.Sprintf("item %d %s", r.Line, r.ID))
				}
			}
			line := 1
			if tc.name == "csv" {
				line = 2
			}
			want := []string{fmt.Sprintf("item %d a", line), fmt.Sprintf("bad %d b: no b", line+1), fmt.Sprintf("item %d c", line+2)}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}
