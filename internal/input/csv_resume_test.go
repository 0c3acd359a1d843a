package input

import (
	"fmt"
	"strings"
	"testing"
)

// A record that is not valid CSV, or has the wrong number of fields, is
// reported as its first line, and every line after that one is read
// again: a stray quote must not take the valid rows after it down with
// it (they would be in neither the results nor the errors file).
func TestCSVBadRecordLosesNoLaterLine(t *testing.T) {
	const header = "id,title,text\n"
	for _, tc := range []struct {
		name  string
		input string // after the header, which is line 1
		// want is each Next in turn: "N id" for the item of line N,
		// "N bad: reason" for a bad line (the reason a substring).
		want []string
	}{
		{"stray opening quote (the review's repro)",
			"1,Sluice,Explain sluice\n2,\"unterminated,foo\n3,Rate,Why limits\n4,Four,text four\n5,Five,text five\n6,Six,text six\n7,Seven,\"ok\"\n",
			[]string{"2 1", `3 bad: extraneous or missing " in quoted-field (line 8, column 9); the quoted field opened at line 3, column 3 runs on over the lines after it, which are read again from line 4`,
				"4 3", "5 4", "6 5", "7 6", "8 7"}},
		{"unterminated quote on the last line, with a line break",
			"1,a,b\n2,a,\"open\n", []string{"2 1", `3 bad: extraneous or missing " in quoted-field`}},
		{"unterminated quote on the last line, without one",
			"1,a,\"open", []string{`2 bad: extraneous or missing " in quoted-field`}},
		{"unterminated quote, then lines to the end without a line break",
			"1,a,\"open\n2,a,b\n3,a,b", []string{`2 bad: extraneous or missing " in quoted-field (line 4, column 6); the quoted field opened at line 2, column 5`, "3 2", "4 3"}},
		{"bare quote in an unquoted field",
			"1,a,x\"y\n2,a,b\n", []string{`2 bad: bare " in non-quoted-field (line 2, column 6)`, "3 2"}},
		{"text after a closing quote",
			"1,a,\"x\"y\n2,a,b\n", []string{`2 bad: extraneous or missing " in quoted-field (line 2, column 7)`, "3 2"}},
		{"wrong field counts on one line",
			"1,a\n2,a,b,c\n3,a,b\n", []string{"2 bad: record has 2 fields, the header 3", "3 bad: record has 4 fields, the header 3", "4 3"}},
		{"a stray quote closed by another: valid CSV, too few fields",
			"1,\"a,b\n2,a,b\"\n3,a,b\n", []string{"2 bad: record has 2 fields, the header 3; the quoted field opened at line 2, column 3", `3 bad: bare " in non-quoted-field`, "4 3"}},
		{"a stray quote closed by another: valid CSV, too many fields",
			"1,\"a\n2\",b,c,d\n3,a,b\n", []string{"2 bad: record has 5 fields, the header 3", `3 bad: bare "`, "4 3"}},
		{"stray quote with CRLF line breaks",
			"1,a,\"x\r\n2,a,b\r\n3,a,b\r\n", []string{"2 bad: the quoted field opened at line 2, column 5", "3 2", "4 3"}},
		{"a later line with invalid UTF-8 is its own bad line",
			"1,\"a,b\n2,a,\xff\n3,a,b\n", []string{"2 bad: invalid CSV", "3 bad: invalid UTF-8", "4 3"}},
		{"a legitimate multi-line field that follows a stray quote still parses",
			"1,\"a,b\n2,a,\"one\ntwo\"\n3,a,b\n", []string{"2 bad: invalid CSV", "3 2", "5 3"}},
		{"a stray quote inside a legitimate multi-line field's line",
			"1,a,\"one\ntw\"o\"\n2,a,b\n", []string{"2 bad: invalid CSV", `3 bad: bare "`, "4 2"}},
		{"legitimate multi-line fields keep working",
			"1,a,\"one,\n2,x,y\n\"\n2,a,\"x\"\"\n\"\"\"\n", []string{"2 1", "5 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Format: FormatCSV, BaseURL: "https://a.example", URL: "/{{.id}}", Template: "{{.text}}"}
			var got []string
			for _, r := range readAll(t, header+tc.input, opts) {
				switch r := r.(type) {
				case BadLine:
					got = append(got, fmt.Sprintf("%d bad: %s", r.Line, r.Reason))
				case Item:
					got = append(got, fmt.Sprintf("%d %s", r.Line, r.ID))
				}
			}
			ok := len(got) == len(tc.want)
			for i := 0; ok && i < len(got); i++ {
				g, w := got[i], tc.want[i]
				if n, reason, bad := strings.Cut(w, " bad: "); bad {
					ok = strings.HasPrefix(g, n+" bad: ") && strings.Contains(g, reason)
				} else {
					ok = g == w
				}
			}
			if !ok {
				t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
		})
	}
}
