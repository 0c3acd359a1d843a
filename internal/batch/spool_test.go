package batch

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/sluicehq/sluice/internal/input"
)

// jsonSeeds are bodies at the edges of what the scanner and the
// transcoders tell apart.
var jsonSeeds = []string{
	``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `01`, `1.`, `1.5e`, `1.5e+3`, `-`, `123 `, ` 123`, `1 2`,
	`true`, `tru`, `nul`, `null `, `falsey`, `{"a":1,}`, `[1,]`, `{"a" : [1, 2.5, -3e-2, true, false, null] }`,
	`{"s":"\u00e9\ud83d\ude00 \"\\\/\b\f\n\r\t"}`, `"\u12"`, `"\x"`, "\"\x01\"", "\"tab\there\"", `{"a":1}}`,
	"{\n  \"pretty\": [\n    1,\n    \"two  three\"\n  ]\n}\n", strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001), "\"\xff\xfe\"", "plain text", "<html>\u2028\u2029</html>",
	"a\xe2\x80", "\xe2\x80\xa8", "\xf0\x9f\x98", "caf\xc3\xa9 \xc3", "\x00\x1f\x7f\"\\",
}

// chunked reads r in pieces of the sizes given in turn, for pieces that
// cut characters and escapes anywhere.
type chunked struct {
	r     io.Reader
	sizes []byte
	i     int
}

func (c *chunked) Read(p []byte) (int, error) {
	n := 1
	if len(c.sizes) > 0 {
		n = int(c.sizes[c.i%len(c.sizes)])%7 + 1
		c.i++
	}
	return c.r.Read(p[:min(n, len(p))])
}

// FuzzJSONScan holds jsonScan to json.Valid, and its compact length to
// json.Compact's, however the body is cut into pieces.
func FuzzJSONScan(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s), []byte{3, 1, 4})
	}
	f.Fuzz(func(t *testing.T, body, cuts []byte) {
		var s jsonScan
		r := &chunked{r: bytes.NewReader(body), sizes: cuts}
		if _, err := io.Copy(&s, r); err != nil {
			t.Fatal(err)
		}
		want := json.Valid(body)
		if got := s.Valid(); got != want {
			t.Fatalf("jsonScan(%.80q).Valid() = %v; json.Valid says %v", body, got, want)
		}
		if want {
			var c bytes.Buffer
			json.Compact(&c, body)
			if s.Compact() != int64(c.Len()) {
				t.Fatalf("jsonScan(%.80q).Compact() = %d; json.Compact makes %d bytes", body, s.Compact(), c.Len())
			}
		}
	})
}

// FuzzTranscode holds the spooled road to the in-memory one: for any
// body, the line each shape builds around the body transcoded a piece at
// a time, through a buffer as small as it may be, is the line the shape
// builds with the body whole; a body that is not UTF-8 goes as base64
// (writeBase64JSON), whose line holds it losslessly (FuzzBase64JSON).
func FuzzTranscode(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s), []byte{2, 5})
	}
	it := input.Item{ID: "r1", Metadata: json.RawMessage(`{"k":"v"}`)}
	f.Fuzz(func(t *testing.T, body, cuts []byte) {
		var s jsonScan
		s.Write(body)
		isJSON := len(body) > 0 && s.Valid()
		var enc bytes.Buffer
		var err error
		buf := make([]byte, 4+len(cuts)%8) // utf8.UTFMax and up
		r := &chunked{r: bytes.NewReader(body), sizes: cuts}
		binary := !utf8.Valid(body)
		if binary {
			var n int64
			n, err = writeBase64JSON(&enc, r, buf)
			if n != int64(enc.Len()) || n != base64JSONLen(int64(len(body))) {
				t.Errorf("writeBase64JSON returned %d; wrote %d; base64JSONLen says %d", n, enc.Len(), base64JSONLen(int64(len(body))))
			}
		} else if isJSON {
			var n int64
			n, err = writeCompact(&enc, r, buf)
			if n != int64(enc.Len()) {
				t.Errorf("writeCompact returned %d; wrote %d", n, enc.Len())
			}
		} else {
			var n int64
			n, err = writeJSONString(&enc, r, buf)
			if n != int64(enc.Len()) {
				t.Errorf("writeJSONString returned %d; wrote %d", n, enc.Len())
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, format := range []input.Format{input.FormatHTTP, input.FormatOpenAI, input.FormatAnthropic} {
			shape := input.ShapeOf(format)
			resp := input.Response{Status: 200, RequestID: "req", Attempts: 2, Fingerprint: 0xfeed}
			l, ok := jsonlFile{shape: shape}.lineAround(it, resp, &spooledBody{binary: binary})
			if !ok {
				t.Fatalf("%s: no marker in the line", format)
			}
			got := append(append(append([]byte(nil), l.prefix...), enc.Bytes()...), l.suffix...)
			resp.Body = body
			want := shape.AppendResultLine(nil, it, resp)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s, body %.80q:\ngot  %.200q\nwant %.200q", format, body, got, want)
			}
		}
	})
}

// TestSpoolLikeInMemory runs bodies through spool, over the threshold and
// under it, with their first part read before or not, and checks the
// line, the length it was promised and that no file is left.
func TestSpoolLikeInMemory(t *testing.T) {
	big := strings.Repeat(`{"a": "x\u2028y", "b": [1, 2.5e3, null]}, `, 20000)
	for _, body := range []string{
		"[" + big + "0]", "[" + big, "{\"s\":\"" + strings.Repeat("\xff\x00é\u2029", 100000) + "\"}",
		strings.Repeat("text \"\xc3", 90000), `{"tiny":1}`, "",
	} {
		dir := t.TempDir()
		for _, headLen := range []int{0, 1, 1000} {
			headLen = min(headLen, len(body))
			sb, err := spool(dir, []byte(body[:headLen]), iotest.HalfReader(strings.NewReader(body[headLen:])))
			if err != nil {
				t.Fatal(err)
			}
			if sb.name != "" {
				t.Errorf("spool file %s still named after it was made", sb.name)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("spool left %d files in its directory while open", len(ents))
			}
			it := input.Item{ID: "x"}
			resp := input.Response{Status: 200}
			l, ok := jsonlFile{shape: input.ShapeOf(input.FormatHTTP)}.lineAround(it, resp, sb)
			if !ok {
				t.Fatal("no marker in the line")
			}
			var got bytes.Buffer
			if err := l.write(&got); err != nil {
				t.Fatal(err)
			}
			resp.Body = []byte(body)
			want := input.ShapeOf(input.FormatHTTP).AppendResultLine(nil, it, resp)
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("body of %d bytes, head %d: the spooled line differs from the in-memory one (%d bytes, want %d)", len(body), headLen, got.Len(), len(want))
			}
			if l.size() != int64(got.Len()) {
				t.Errorf("body of %d bytes: size() = %d; the line has %d", len(body), l.size(), got.Len())
			}
			if err := sb.Close(); err != nil {
				t.Error(err)
			}
			sb.Close() // twice is fine
		}
	}
}

// TestSpoolRefusesPastTheLimit checks that spool stops one byte past
// maxResponse, for send to refuse the body, and leaves no file.
func TestSpoolRefusesPastTheLimit(t *testing.T) {
	dir := t.TempDir()
	sb, err := spool(dir, nil, io.LimitReader(zeros{}, maxResponse+100))
	if err != nil || sb.size != maxResponse+1 {
		t.Fatalf("spool of a body over the limit: %v, %v; want %d bytes", sb, err, maxResponse+1)
	}
	sb.Close()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("%d files left", len(ents))
	}
}

// TestReadOrSpoolWithoutASpool checks that a body over the threshold is
// still read, into memory as before spooling, when no temporary file can
// be made, and that one under it never touches the directory.
func TestReadOrSpoolWithoutASpool(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	body := strings.Repeat("b", spoolAbove*3)
	for _, size := range []int64{-1, int64(len(body))} {
		got, sb, err := readOrSpool(strings.NewReader(body), size, missing)
		if err != nil || sb != nil || string(got) != body {
			t.Errorf("size %d: %d bytes, spool %v, %v; want the body in memory", size, len(got), sb, err)
		}
	}
	got, sb, err := readOrSpool(strings.NewReader("small"), -1, missing)
	if err != nil || sb != nil || string(got) != "small" {
		t.Errorf("a small body: %q, %v, %v", got, sb, err)
	}
}

// TestSpoolUsage checks that the token counts of a spooled body are read
// from its ends, where the APIs put them.
func TestSpoolUsage(t *testing.T) {
	body := `{"id":"x","data":"` + strings.Repeat("d", 1<<20) + `","usage":{"prompt_tokens":12,"completion_tokens":34}}`
	sb, err := spool(t.TempDir(), nil, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	u := sb.usage(nil)
	if u == nil || u.InputTokens != 12 || u.OutputTokens != 34 {
		t.Errorf("usage = %+v; want 12 in, 34 out", u)
	}
}

// Spool files are bounded in number: past maxOpenSpools a large body is
// read into memory, as when no spool file can be made, so that --ordered's
// window of waiting results cannot use up the process's descriptors.
func TestSpoolFilesAreBoundedInNumber(t *testing.T) {
	dir := t.TempDir()
	body := bytes.Repeat([]byte("x"), spoolAbove+1)
	var open []*spooledBody
	defer func() {
		for _, sb := range open {
			sb.Close()
		}
	}()
	for range maxOpenSpools {
		b, sb, err := readOrSpool(bytes.NewReader(body), int64(len(body)), dir)
		if err != nil || sb == nil || b != nil {
			t.Fatalf("spool %d: %v, spooled %v", len(open), err, sb != nil)
		}
		open = append(open, sb)
	}
	b, sb, err := readOrSpool(bytes.NewReader(body), int64(len(body)), dir)
	if err != nil || sb != nil || !bytes.Equal(b, body) {
		t.Fatalf("past the bound: %v, spooled %v, %d bytes in memory; want the body in memory", err, sb != nil, len(b))
	}
	open[0].Close()
	b, sb, err = readOrSpool(bytes.NewReader(body), int64(len(body)), dir)
	if err != nil || sb == nil {
		t.Fatalf("after one closed: %v, spooled %v; want spooled again", err, sb != nil)
	}
	open = append(open, sb)
}

// FuzzBase64JSON: writeBase64JSON's string decodes to exactly the bytes
// it read, however they are cut, through any buffer.
func FuzzBase64JSON(f *testing.F) {
	for _, s := range []string{"", "a", "ab", "abc", "caf\xe9", "\x89PNG\r\n\x1a\n\x00\xff\xfe"} {
		f.Add([]byte(s), []byte{2, 5}, uint16(0))
	}
	f.Fuzz(func(t *testing.T, body, cuts []byte, bufLen uint16) {
		var enc bytes.Buffer
		n, err := writeBase64JSON(&enc, &chunked{r: bytes.NewReader(body), sizes: cuts}, make([]byte, bufLen%1000))
		if err != nil || n != int64(enc.Len()) {
			t.Fatalf("writeBase64JSON = %d, %v; wrote %d", n, err, enc.Len())
		}
		var s string
		if err := json.Unmarshal(enc.Bytes(), &s); err != nil {
			t.Fatalf("%q: %v", enc.Bytes(), err)
		}
		got, err := base64.StdEncoding.DecodeString(s)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("decodes to %q, %v; want %q", got, err, body)
		}
	})
}
