package input

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestCSVURLColumn(t *testing.T) {
	input := "url,name\n" +
		"https://a.example/1,one\n" +
		"\n" +
		"/v1/two,two\n" +
		",three\n" +
		"https://a.example/4\n" +
		"https://a.example/5,five,extra\n" +
		"ftp://a.example/6,six\n" +
		" https://a.example/7 ,seven\n"
	got := readAll(t, input, Options{Format: FormatCSV, BaseURL: "https://b.example"})
	checkResults(t, got, []any{
		Item{ID: "2", Line: 2, Method: "GET", URL: "https://a.example/1"},
		Item{ID: "4", Line: 4, Method: "GET", URL: "https://b.example/v1/two"},
		BadLine{Line: 5, Reason: `empty "url" column`},
		BadLine{Line: 6, Reason: "record has 1 fields, the header 2"},
		BadLine{Line: 7, Reason: "record has 3 fields, the header 2"},
		BadLine{Line: 8, Reason: `unsupported URL scheme "ftp"`},
		Item{ID: "9", Line: 9, Method: "GET", URL: "https://a.example/7"},
	})
}

func TestCSVTemplates(t *testing.T) {
	input := "# prompts\n\n" +
		" id , model,prompt\n" +
		"a1,m,\"Say \"\"hi\"\", then\nstop.\"\n" +
		"a2,m,plain\r\n" +
		"a3,m/x,\"<&>\"\n"
	opts := Options{
		Format:   FormatCSV,
		BaseURL:  "https://api.example",
		URL:      "/v1/models/{{urlquery .model}}/run?id={{.id}}",
		Template: `{"model":{{json .model}},"prompt":{{json .prompt}}}`,
	}
	checkResults(t, readAll(t, input, opts), []any{
		Item{ID: "a1", Line: 4, Method: "POST", URL: "https://api.example/v1/models/m/run?id=a1",
			Body: []byte(`{"model":"m","prompt":"Say \"hi\", then\nstop."}`)},
		Item{ID: "a2", Line: 6, Method: "POST", URL: "https://api.example/v1/models/m/run?id=a2",
			Body: []byte(`{"model":"m","prompt":"plain"}`)},
		Item{ID: "a3", Line: 7, Method: "POST", URL: "https://api.example/v1/models/m%2Fx/run?id=a3",
			Body: []byte(`{"model":"m/x","prompt":"<&>"}`)},
	})
}

// A cell put into a --url as it is can change the resource asked (a "/",
// "?", "#" or ".." in it); pathescape keeps it one path segment (outside
// review).
func TestCSVURLPathEscape(t *testing.T) {
	input := "id,name\n1,a/b?c=d#e\n2,../admin\n3,caf\u00e9 x\n"
	opts := Options{Format: FormatCSV, URL: "https://api.example/items/{{pathescape .name}}"}
	checkResults(t, readAll(t, input, opts), []any{
		Item{ID: "1", Line: 2, Method: "GET", URL: "https://api.example/items/a%2Fb%3Fc=d%23e"},
		Item{ID: "2", Line: 3, Method: "GET", URL: "https://api.example/items/..%2Fadmin"},
		Item{ID: "3", Line: 4, Method: "GET", URL: "https://api.example/items/caf%C3%A9%20x"},
	})
}

func TestCSVMethod(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want Item
	}{
		{"GET without a body", Options{}, Item{ID: "2", Line: 2, Method: "GET", URL: "https://a.example/"}},
		{"POST with a body", Options{Template: "{{.x}}"}, Item{ID: "2", Line: 2, Method: "POST", URL: "https://a.example/", Body: []byte("b")}},
		{"empty body", Options{Template: "{{if false}}x{{end}}"}, Item{ID: "2", Line: 2, Method: "POST", URL: "https://a.example/", Body: []byte{}}},
		{"given method", Options{Template: "{{.x}}", Method: "put"}, Item{ID: "2", Line: 2, Method: "PUT", URL: "https://a.example/", Body: []byte("b")}},
		{"HEAD", Options{Method: "HEAD"}, Item{ID: "2", Line: 2, Method: "HEAD", URL: "https://a.example/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Format = FormatCSV
			checkResults(t, readAll(t, "url,x\nhttps://a.example/,b\n", opts), []any{tc.want})
		})
	}
}

// Quoted fields with line breaks: each record's line is the one it starts
// on, and the records after it keep their numbers.
func TestCSVMultiLineRecords(t *testing.T) {
	input := "id,url,text\n" + // 1
		"a,https://a.example/,\"one\n" + // 2
		"two\r\n" + // 3
		"three\"\n" + // 4
		"b,https://a.example/,\"\"\n" + // 5
		"c,https://a.example/,\"x\"\"\n" + // 6: "" is a quote; the field goes on
		"\"\"\"\n" + // 7: then a quote and the closing one
		"\n" + // 8
		"d,https://a.example/,\"\n" + // 9
		"\n" + // 10: a blank line inside a field
		"\"\n" + // 11
		"e,https://a.example/,ok\n" // 12
	opts := Options{Format: FormatCSV, Template: "{{.text}}"}
	post := func(id string, line int, body string) Item {
		return Item{ID: id, Line: line, Method: "POST", URL: "https://a.example/", Body: []byte(body)}
	}
	checkResults(t, readAll(t, input, opts), []any{
		post("a", 2, "one\ntwo\nthree"),
		post("b", 5, ""),
		post("c", 6, "x\"\n\""),
		post("d", 9, "\n\n"),
		post("e", 12, "ok"),
	})
}

func TestCSVBadRecords(t *testing.T) {
	input := "id,url,text\n" + // 1
		"a,https://a.example/,x\"y\n" + // 2: bare quote
		"b,https://a.example/,\"x\"y\n" + // 3: text after the closing quote
		"c,https://a.example/,\"spans\n" + // 4
		"two\"lines\"\n" + // 5: the error is on the record's second line
		"d,https://a.example/,ok\n" + // 6
		",https://a.example/,no id\n" + // 7
		"f,https://a.example/,\xff\n" + // 8
		"g,https://a.example/,\"never closed\n" + // 9
		"h,https://a.example/,read again\n" // 10
	opts := Options{Format: FormatCSV, Template: "{{.text}}"}
	checkResults(t, readAll(t, input, opts), []any{
		BadLine{Line: 2, Reason: `invalid CSV: bare " in non-quoted-field (line 2, column 23)`},
		BadLine{Line: 3, Reason: `invalid CSV: extraneous or missing " in quoted-field (line 3, column 24)`},
		BadLine{Line: 4, Reason: `invalid CSV: extraneous or missing " in quoted-field (line 5, column 4); the quoted field opened at line 4, column 22 runs on`},
		BadLine{Line: 5, Reason: `invalid CSV: bare " in non-quoted-field (line 5, column 4)`},
		Item{ID: "d", Line: 6, Method: "POST", URL: "https://a.example/", Body: []byte("ok")},
		BadLine{Line: 7, Reason: `empty "id" column`},
		BadLine{Line: 8, Reason: "invalid UTF-8 at byte 22"},
		BadLine{Line: 9, Reason: `invalid CSV: extraneous or missing " in quoted-field (line 10, column 33); the quoted field opened at line 9, column 22 runs on`},
		Item{ID: "h", Line: 10, Method: "POST", URL: "https://a.example/", Body: []byte("read again")},
	})
}

// A record over the cap is reported at the line it starts on, and reading
// resumes at the line after that one, as for a record that is not valid
// CSV: the lines it spans are read again, each on its own.
func TestCSVRecordOverTheCap(t *testing.T) {
	long := strings.Repeat("x", 100)
	input := "url,text\n" + // 1
		"https://a.example/," + long + "\n" + // 2
		"https://a.example/,\"" + long[:40] + "\n" + long[:40] + "\"\n" + // 3-4: over in total
		"https://a.example/,\"" + strings.Repeat("y", 5*inputBufSize) + "\n,\n\"\n" + // 5-7: line 5 alone is over
		"https://a.example/,short\n" // 8
	opts := Options{Format: FormatCSV, Template: "{{.text}}", MaxLine: 90}
	checkResults(t, readAll(t, input, opts), []any{
		BadLine{Line: 2, Reason: "record over the 90 bytes cap"},
		BadLine{Line: 3, Reason: "record over the 90 bytes cap: the quoted field opened at line 3, column 20 runs on past it (a stray quote?); the lines after line 3 are read again from line 4"},
		BadLine{Line: 4, Reason: `bare " in non-quoted-field`},
		BadLine{Line: 5, Reason: "record over the 90 bytes cap"},
		BadLine{Line: 6, Reason: `empty "url" column`},
		BadLine{Line: 7, Reason: `extraneous or missing " in quoted-field`}, // takes line 8, read again
		Item{ID: "8", Line: 8, Method: "POST", URL: "https://a.example/", Body: []byte("short")},
	})
}

// A stray quote whose record runs over the cap takes no valid row after
// it: the record is a bad line at the line it starts on, and every row
// after that one runs.
func TestCSVRecordOverTheCapLosesNoLaterRow(t *testing.T) {
	row := "https://a.example/,row\n"
	input := "url,text\n" + // 1
		"https://a.example/,\"stray\n" + // 2
		strings.Repeat(row, 10) + // 3-12
		"https://a.example/,\"ok\"\n" + // 13: the quote after "ok," is text after a closing one
		"https://a.example/,after\n" // 14
	opts := Options{Format: FormatCSV, Template: "{{.text}}", MaxLine: 90}
	want := []any{BadLine{Line: 2, Reason: "record over the 90 bytes cap: the quoted field opened at line 2, column 20 runs on past it (a stray quote?); the lines after line 2 are read again from line 3"}}
	for n := 3; n <= 12; n++ {
		want = append(want, Item{ID: strconv.Itoa(n), Line: n, Method: "POST", URL: "https://a.example/", Body: []byte("row")})
	}
	want = append(want,
		Item{ID: "13", Line: 13, Method: "POST", URL: "https://a.example/", Body: []byte("ok")},
		Item{ID: "14", Line: 14, Method: "POST", URL: "https://a.example/", Body: []byte("after")})
	checkResults(t, readAll(t, input, opts), want)
	// Cut at the end of line 12: the stray quote is still open at the end
	// of the input.
	checkResults(t, readAll(t, input[:len(input)-len("https://a.example/,after\n")-len("https://a.example/,\"ok\"\n")], opts), want[:11])
}

func TestCSVTemplateExecutionError(t *testing.T) {
	input := "url,code\nhttps://a.example/,abcd\nhttps://a.example/,ab\n"
	opts := Options{Format: FormatCSV, Template: `{{slice .code 3}}`}
	checkResults(t, readAll(t, input, opts), []any{
		Item{ID: "2", Line: 2, Method: "POST", URL: "https://a.example/", Body: []byte("d")},
		BadLine{Line: 3, Reason: `--template: body:1:2: executing "body" at <slice .code 3>: error calling slice: index out of range: 3`},
	})
}

func TestCSVEmptyURLFromTemplate(t *testing.T) {
	input := "u,x\nhttps://a.example/,1\n ,2\n"
	checkResults(t, readAll(t, input, Options{Format: FormatCSV, URL: "{{.u}}"}), []any{
		Item{ID: "2", Line: 2, Method: "GET", URL: "https://a.example/"},
		BadLine{Line: 3, Reason: "--url made an empty URL"},
	})
}

func TestCSVHeaderErrors(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		opts        Options
		want        string
	}{
		{"no header", "", Options{}, "input: the csv input has no header row"},
		{"only comments", "# x\n\n", Options{}, "input: the csv input has no header row"},
		{"no url", "id,text\n1,a\n", Options{Template: "{{.text}}"}, `input: csv input needs --url or a "url" column (columns: id, text)`},
		{"template column", "url,text\n", Options{Template: `{"p":{{json .prompt}}}`}, `input: --template uses column "prompt", which the csv header lacks (columns: url, text)`},
		{"template column in if", "url,text\n", Options{Template: `{{if .text}}{{.other}}{{end}}`}, `--template uses column "other"`},
		{"template root column in range", "url,text\n", Options{Template: `{{range .text}}{{$.nope}}{{end}}`}, `--template uses column "nope"`},
		{"url column", "id,text\n", Options{URL: `https://a.example/{{.path}}`}, `input: --url uses column "path"`},
		{"repeated column", "url,a, a\n", Options{}, `input: the csv header names column "a" twice`},
		{"bad header", "url,\"a\n", Options{}, `input: the csv header (line 1): invalid CSV: extraneous or missing " in quoted-field`},
		{"header over the cap", strings.Repeat("a,", 40) + "\n", Options{MaxLine: 50}, "input: the csv header (line 1) is over the 50 bytes cap"},
		{"header not UTF-8", "url,\xff\n", Options{}, "input: the csv header (line 1): invalid UTF-8 at byte 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Format = FormatCSV
			_, err := NewReader(strings.NewReader(tc.input), opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewReader error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// In auto mode csv options make a line that fits no format a csv header:
// a header of one column has no comma to be recognised by.
func TestCSVOptionsDetectOneColumn(t *testing.T) {
	r, err := NewReader(strings.NewReader("url\nhttps://a.example/\n"), Options{Method: "DELETE"})
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	if r.Format() != FormatCSV {
		t.Errorf("Format() = %q, want csv", r.Format())
	}
	checkResults(t, drain(t, r), []any{Item{ID: "2", Line: 2, Method: "DELETE", URL: "https://a.example/"}})
}

// The header may start with a byte order mark, which is not part of the
// first column's name.
func TestCSVByteOrderMark(t *testing.T) {
	got := readAll(t, "\uFEFFid,url\nx,https://a.example/\n", Options{})
	checkResults(t, got, []any{Item{ID: "x", Line: 2, Method: "GET", URL: "https://a.example/"}})
}

// After the header a record may start with '#': it is data, not a comment.
func TestCSVHashIsDataAfterTheHeader(t *testing.T) {
	got := readAll(t, "id,url\n#1,https://a.example/\n", Options{Format: FormatCSV})
	checkResults(t, got, []any{Item{ID: "#1", Line: 2, Method: "GET", URL: "https://a.example/"}})
}

// TestCSVTemplateMustMakeValidJSON protects against a value holding a quote
// or a newline, put into a JSON template unquoted, being sent as broken
// JSON: the line is bad, says why and how to quote, and the others go on.
func TestCSVTemplateMustMakeValidJSON(t *testing.T) {
	input := "id,prompt,n\n" +
		"a,plain,1\n" +
		"b,\"say \"\"hi\"\"\",2\n" +
		"c,\"two\nlines\",3\n"
	opts := Options{Format: FormatCSV, URL: "https://a.example/", Template: `{"prompt":"{{.prompt}}","n":{{.n}}}`}
	checkResults(t, readAll(t, input, opts), []any{
		Item{ID: "a", Line: 2, Method: "POST", URL: "https://a.example/", Body: []byte(`{"prompt":"plain","n":1}`)},
		BadLine{Line: 3, ID: "b", Reason: "--template made invalid JSON: write {{json .prompt}} to put the column in as a JSON string"},
		BadLine{Line: 4, ID: "c", Reason: "--template made invalid JSON: write {{json .prompt}} to put the column in as a JSON string"},
	})

	// A template that is not JSON is sent as written.
	opts.Template = `prompt={{.prompt}}`
	got := readAll(t, input, opts)
	if len(got) != 3 {
		t.Fatalf("text template: got %d results, want 3: %v", len(got), got)
	}
	for _, r := range got {
		if _, bad := r.(BadLine); bad {
			t.Errorf("text template: got bad line %v, want every line sent as text", r)
		}
	}
}

// A row whose id column is fine but whose template, URL or URL column is
// not is reported under its id: a reader matching failures back to the
// input by id (the documented key) found "id": null.
func TestCSVBadRowKeepsItsID(t *testing.T) {
	input := "id,prompt,url\n" +
		"a,\"say \"\"hi\"\"\",https://a.example/\n" +
		"b,plain,\n" +
		",plain,https://a.example/\n"
	opts := Options{Format: FormatCSV, Template: `{"prompt":"{{.prompt}}"}`}
	got := readAll(t, input, opts)
	var ids []string
	for _, r := range got {
		b, ok := r.(BadLine)
		if !ok {
			t.Fatalf("got %v; want only bad lines", r)
		}
		ids = append(ids, b.ID)
	}
	if want := []string{"a", "b", ""}; !slices.Equal(ids, want) {
		t.Errorf("bad rows' ids %q; want %q (the last has none)", ids, want)
	}
}
