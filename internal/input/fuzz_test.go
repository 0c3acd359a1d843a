package input

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// fuzzOpts turns a fuzzed number into MaxLine: 0 (the default) or a small
// cap, so that the cap is often hit.
func fuzzMaxLine(n uint16) int {
	if n%4 == 0 {
		return 0
	}
	return int(n%512) + 1
}

// checkAll reads r to the end and checks what every reader promises: each
// result is an Item with an id, a method and an absolute http(s) URL, or a
// *BadLine with a reason; line numbers rise and stay within the input; and
// the reader ends with io.EOF after at most one call per line.
func checkAll(t *testing.T, r *Reader, data []byte) []Item {
	t.Helper()
	lines := bytes.Count(data, []byte("\n")) + 1
	var items []Item
	last := 0
	for calls := 0; ; calls++ {
		if calls > lines+1 {
			t.Fatalf("more than %d calls to Next for %d lines", calls, lines)
		}
		it, err := r.Next()
		if err == io.EOF {
			return items
		}
		var bad *BadLine
		line := it.Line
		switch {
		case errors.As(err, &bad):
			if bad.Reason == "" {
				t.Errorf("bad line %d without a reason", bad.Line)
			}
			line = bad.Line
		case err != nil:
			t.Fatalf("Next: %v", err)
		default:
			if it.ID == "" || it.Method == "" || it.URL == "" {
				t.Errorf("line %d: item %+v lacks an id, a method or a URL", it.Line, it)
			}
			if !allowedMethods[it.Method] {
				t.Errorf("line %d: method %q", it.Line, it.Method)
			}
			if u, err := url.Parse(it.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				t.Errorf("line %d: URL %q is not absolute http(s): %v", it.Line, it.URL, err)
			}
			items = append(items, it)
		}
		if line <= last || line > lines {
			t.Fatalf("line %d after line %d, in an input of %d lines", line, last, lines)
		}
		last = line
	}
}

var jsonlSeeds = []string{
	`{"id":"a","method":"POST","url":"https://a.example/x","headers":{"A":"b","C":["d"]},"body":{"k":[1,2.5e3,"s"]}}`,
	`{"id":7,"url":"/v1/x","body":"raw text"}` + "\r\n" + `{"url":"/y"}`,
	`{"custom_id":"r1","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[]}}`,
	`{"custom_id":"r1","params":{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}}`,
	`{"url":` + "\n" + `["x"]` + "\n" + `{"url":"a","url":"b"}` + "\n" + `{"custom_id":"","params":[]}`,
	"# comment\n\n{\"url\":\"https://a.example/\\u00e9\"}\n\xff\n",
	"0,0", // auto: a csv header without a url column
	// A quote left open must not swallow the next lines.
	"{\"url\":\"/a\n{\"url\":\"/b\"}\n{\"url\":\"/c\\\n\"}\n{\"url\":\"/d\"}",
}

func FuzzReaderJSONL(f *testing.F) {
	for i, s := range jsonlSeeds {
		f.Add([]byte(s), uint8(i), uint16(i))
		f.Add([]byte(s), uint8(3), uint16(0)) // detected
	}
	formats := []Format{FormatHTTP, FormatOpenAI, FormatAnthropic, FormatAuto}
	f.Fuzz(func(t *testing.T, data []byte, format uint8, maxLine uint16) {
		opts := Options{
			Format:  formats[int(format)%len(formats)],
			BaseURL: "https://api.example/base",
			MaxLine: fuzzMaxLine(maxLine),
		}
		r, err := NewReader(bytes.NewReader(data), opts)
		if err != nil {
			// Detection may find csv, whose header can be wrong.
			if opts.Format != FormatAuto || !strings.HasPrefix(err.Error(), "input: ") {
				t.Fatalf("NewReader: %v", err)
			}
			return
		}
		for _, it := range checkAll(t, r, data) {
			switch r.Format() {
			case FormatOpenAI, FormatAnthropic:
				var body, raw map[string]any
				if json.Unmarshal(it.Body, &body) != nil || json.Unmarshal(it.Raw, &raw) != nil || !reflect.DeepEqual(body, raw) {
					t.Errorf("line %d: body %q and raw %q are not the same JSON object", it.Line, it.Body, it.Raw)
				}
				if it.Method != "POST" {
					t.Errorf("line %d: method %q", it.Line, it.Method)
				}
			case FormatHTTP:
				for name, values := range it.Header {
					for _, v := range values {
						if !isToken(name) || !ValidHeaderValue(v) {
							t.Errorf("line %d: header %q: %q", it.Line, name, v)
						}
					}
				}
			}
		}
		if r.Format() != FormatCSV {
			r, _ = NewReader(bytes.NewReader(data), opts)
			checkEveryLine(t, r, data, opts.MaxLine)
		}
	})
}

// checkEveryLine checks that a reader of lines loses none (a quote left
// open in a JSON line must not swallow the next ones): every line that is
// neither blank nor a comment gives exactly one item or bad line, under
// its own number. (A line over the cap is reported even if it is blank
// or a comment: it is not held to be looked at.)
func checkEveryLine(t *testing.T, r *Reader, data []byte, maxLine int) {
	t.Helper()
	if maxLine == 0 {
		maxLine = defaultInputMaxLine
	}
	var want []int
	for i, l := range strings.Split(string(bytes.TrimPrefix(data, utf8BOM)), "\n") {
		over := len(strings.TrimSuffix(l, "\r")) > maxLine
		if l = strings.TrimSpace(l); over || l != "" && l[0] != '#' {
			want = append(want, i+1)
		}
	}
	var got []int
	for {
		it, err := r.Next()
		var bad *BadLine
		switch {
		case err == io.EOF:
			if !reflect.DeepEqual(got, want) && (len(got) > 0 || len(want) > 0) {
				t.Fatalf("lines read: %v, want %v", got, want)
			}
			return
		case errors.As(err, &bad):
			got = append(got, bad.Line)
		case err != nil:
			t.Fatalf("Next: %v", err)
		default:
			got = append(got, it.Line)
		}
	}
}

func FuzzReaderURLs(f *testing.F) {
	for _, s := range []string{
		"https://a.example/x\n\n# c\n  http://b.example/y?q=1  \r\n/rel\nftp://c/\nexample.com\n//h/x\nhttp://[::1\n",
		"http://a.example/%zz\nhttps://user:pw@a.example:8080/p;x?y#z\nhttp://a.example/\x00\n",
	} {
		f.Add([]byte(s), uint16(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, maxLine uint16) {
		r, err := NewReader(bytes.NewReader(data), Options{Format: FormatURLs, BaseURL: "http://base.example", MaxLine: fuzzMaxLine(maxLine)})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range checkAll(t, r, data) {
			want := it.URL
			if _, secret := it.parsedURL.User.Password(); secret {
				want = it.parsedURL.Redacted()
			}
			if !strings.HasSuffix(want, it.ID) || it.Method != "GET" || it.Body != nil {
				t.Errorf("item %+v: want id = the URL as written (password masked), GET, no body", it)
			}
		}
	})
}

var csvSeeds = []string{
	"a,b\n1,2\n\"x\ny\",\"q\"\"q\"\n3\n4,5,6\n",
	"# c\n\nid,url,a,b\nr1,/u,x,y\n,/u,x,y\nr3,ftp://x,\"a\r\nb\",c\r\n",
	"a,b\n\"open,2\n3,4\n",
	"a,b\nx\"y,2\n\"x\"y,2\n\"x\"\r\r\n5,6",
	"a\r\n\"b\"\r\n\"c\"\rd\n\"\"\"\n\",\"\n\n\r\n\"a\"\r",
	"\"a\r\nb\",\"\"\r\n,\r",
	// A stray quote must not swallow the rows after it.
	"a,b\n1,\"open\n/2,x\n/3,\"ok\"\n",
	"a,b\n1,\"open\n/2,x\n\n/3,x\"\n/4,x",
}

func FuzzReaderCSV(f *testing.F) {
	for _, s := range csvSeeds {
		f.Add([]byte(s), uint16(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, maxLine uint16) {
		opts := Options{
			Format:  FormatCSV,
			BaseURL: "https://api.example",
			// index, unlike .name, works with any header.
			URL:      `/x/{{index . "a" | urlquery}}`,
			Template: `{"b":{{index . "b" | json}}}`,
			MaxLine:  fuzzMaxLine(maxLine),
		}
		r, err := NewReader(bytes.NewReader(data), opts)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "input: ") {
				t.Fatalf("NewReader error without the package prefix: %v", err)
			}
			return
		}
		for _, it := range checkAll(t, r, data) {
			if !json.Valid(it.Body) {
				t.Errorf("line %d: body %q is not JSON", it.Line, it.Body)
			}
		}
		r, _ = NewReader(bytes.NewReader(data), opts)
		checkCSVResumes(t, r, data)
	})
}

// checkCSVResumes checks that a record rejected for its CSV (not valid,
// the wrong number of fields, or over the cap) takes no line after its
// first with it: the lines up to the next item or bad line are blank.
func checkCSVResumes(t *testing.T, r *Reader, data []byte) {
	t.Helper()
	lines := strings.Split(string(data), "\n")
	after := 0 // the line of the last CSV-rejected record; 0 for none
	for {
		it, err := r.Next()
		line := it.Line
		var bad *BadLine
		switch {
		case err == io.EOF:
			line = len(lines) + 1
		case errors.As(err, &bad):
			line = bad.Line
		case err != nil:
			t.Fatalf("Next: %v", err)
		}
		if after > 0 {
			for n := after + 1; n < line; n++ {
				if strings.TrimSpace(lines[n-1]) != "" {
					t.Fatalf("line %d, after the bad record of line %d, was neither read nor reported", n, after)
				}
			}
		}
		if err == io.EOF {
			return
		}
		after = 0
		if bad != nil && (strings.HasPrefix(bad.Reason, "invalid CSV") || strings.HasPrefix(bad.Reason, "record has") ||
			strings.HasPrefix(bad.Reason, "record over")) {
			after = bad.Line
		}
	}
}

// csvRecord is a record as encoding/csv reads it.
type csvRecord struct {
	start  int
	fields []string
	err    bool
}

// FuzzCSVRecords checks that the csv splitter cuts the input where
// encoding/csv, reading it whole, ends its records: the same records, on
// the same lines, with the same fields or errors.
func FuzzCSVRecords(f *testing.F) {
	for _, s := range csvSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want []csvRecord
		cr := csv.NewReader(bytes.NewReader(data))
		cr.FieldsPerRecord = -1
		for {
			fields, err := cr.Read()
			if err == io.EOF {
				break
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				want = append(want, csvRecord{start: pe.StartLine, err: true})
				continue
			}
			line, _ := cr.FieldPos(0)
			want = append(want, csvRecord{start: line, fields: fields})
		}

		var got []csvRecord
		lines := newLineReader(bytes.NewReader(data), len(data)+1, nil)
		var rd bytes.Reader
		br := bufio.NewReader(&rd)
		for {
			rec, start, over, err := lines.nextRecord()
			if err == io.EOF {
				break
			}
			if err != nil || over {
				t.Fatalf("nextRecord: %v, over %v", err, over)
			}
			switch string(rec) {
			case "", "\n", "\r\n", "\r": // encoding/csv skips empty lines
				continue
			}
			rd.Reset(rec)
			br.Reset(&rd)
			one := csv.NewReader(br)
			one.FieldsPerRecord = -1
			fields, err := one.Read()
			got = append(got, csvRecord{start: start, fields: fields, err: err != nil})
			if err != nil {
				got[len(got)-1].fields = nil
			}
			if _, err := one.Read(); err != io.EOF {
				t.Errorf("record %q from line %d holds more than one record", rec, start)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("input %q:\nsplit: %+v\nwhole: %+v", data, got, want)
		}
	})
}
