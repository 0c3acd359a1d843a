package batch_test

// Results of bodies that are not UTF-8 (outside review: they were stored
// with U+FFFD, lossy yet succeeded): a Latin-1 page, a PNG, a gzip body the
// input asked for with its own Accept-Encoding, a large binary body (the
// spooled road), and an OpenAI-format answer that is audio; each results
// line's body_base64 decodes to exactly the bytes the server sent. A
// UTF-8 body's line is the one sluice always wrote.

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/table/tabletest"
)

// losslessBodies are what losslessAPI answers, by path.
func losslessBodies() map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	png := []byte("\x89PNG\r\n\x1a\n")
	for range 2000 {
		png = append(png, byte(rng.UintN(256)))
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"compressed":"` + strings.Repeat("é", 100) + `"}`))
	zw.Close()
	big := make([]byte, 600<<10) // over spoolAbove: written a piece at a time
	for i := range big {
		big[i] = byte(rng.UintN(256))
	}
	return map[string][]byte{
		"/latin1":           []byte("caf\xe9"), // café in ISO-8859-1
		"/png":              png,
		"/gzip":             gz.Bytes(),
		"/big":              big,
		"/json-bad-byte":    []byte("{\"a\":\"x\xffy\"}"),
		"/v1/audio/speech":  append([]byte("ID3\x04\x00\x00"), png[8:200]...),
		"/utf8":             []byte("café ✓ <b>\n"),
		"/utf8-json":        []byte("{\"a\": \"é\"}\n"),
		"/utf8-json-spaced": []byte("{\n  \"b\": [1, 2]\n}"),
	}
}

func losslessAPI(t *testing.T, bodies map[string][]byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		switch r.URL.Path {
		case "/gzip":
			if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				http.Error(w, "ask for gzip", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Type", "application/json")
		case "/latin1":
			w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
		case "/png":
			w.Header().Set("Content-Type", "image/png")
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// decodedBody returns the bytes a results member holds as body_base64.
func decodedBody(t *testing.T, raw json.RawMessage) []byte {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Errorf("body_base64 %.80s: %v", raw, err)
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Errorf("body_base64 %.80s: %v", raw, err)
	}
	return b
}

func TestRunKeepsBodiesThatAreNotUTF8(t *testing.T) {
	bodies := losslessBodies()
	srv := losslessAPI(t, bodies)
	dir := t.TempDir()
	var in strings.Builder
	for _, p := range []string{"/latin1", "/png", "/big", "/json-bad-byte", "/utf8", "/utf8-json", "/utf8-json-spaced"} {
		fmt.Fprintf(&in, `{"id": %q, "url": %q}`+"\n", p, srv.URL+p)
	}
	fmt.Fprintf(&in, `{"id": "/gzip", "url": %q, "headers": {"Accept-Encoding": "gzip"}}`+"\n", srv.URL+"/gzip")
	out := filepath.Join(dir, "out.jsonl")
	res := e2eRun(t, batch.Config{Input: e2eWrite(t, dir, "in.jsonl", in.String()), Out: out})
	if res.code != 0 || res.sum.Succeeded != 8 {
		t.Fatalf("exit %d, %d succeeded (%v)\n%s", res.code, res.sum.Succeeded, res.err, res.stderr)
	}
	lines := e2eLines(t, out)
	for _, m := range lines {
		var id string
		json.Unmarshal(m["id"], &id)
		want := bodies[id]
		if strings.HasPrefix(id, "/utf8") {
			if _, ok := m["body_base64"]; ok {
				t.Errorf("%s: a UTF-8 body written as body_base64", id)
			}
			continue // its line is checked whole below
		}
		if _, ok := m["body"]; ok {
			t.Errorf("%s: a body that is not UTF-8 written as body (lossy): %.80s", id, m["body"])
		}
		if got := decodedBody(t, m["body_base64"]); !bytes.Equal(got, want) {
			t.Errorf("%s: body_base64 holds %d bytes that differ from the %d the server sent", id, len(got), len(want))
		}
	}
	if len(lines) != 8 {
		t.Errorf("%d results lines; want 8", len(lines))
	}
	// A UTF-8 body's line is byte for byte the one sluice wrote before
	// (only elapsed_ms and the fingerprint vary from run to run).
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	data := string(raw)
	vary := regexp.MustCompile(`"elapsed_ms":\d+,"sluice":\{"fp":"[0-9a-f]{16}"\}`)
	for _, want := range []string{
		`{"id":"/utf8","status":200,"body":"café ✓ <b>\n","attempts":1,"elapsed_ms":0,"sluice":{"fp":"-"}}`,
		`{"id":"/utf8-json","status":200,"body":{"a":"é"},"attempts":1,"elapsed_ms":0,"sluice":{"fp":"-"}}`,
		`{"id":"/utf8-json-spaced","status":200,"body":{"b":[1,2]},"attempts":1,"elapsed_ms":0,"sluice":{"fp":"-"}}`,
	} {
		found := false
		for _, line := range strings.Split(data, "\n") {
			found = found || vary.ReplaceAllString(line, `"elapsed_ms":0,"sluice":{"fp":"-"}`) == want
		}
		if !found {
			t.Errorf("no line %s in\n%.2000s", want, data)
		}
	}
}

// TestRunKeepsOpenAIAudio: the openai format's answer in its Batch output
// shape, when it is audio (POST /v1/audio/speech answers MP3 bytes):
// "response" holds body_base64 in place of "body".
func TestRunKeepsOpenAIAudio(t *testing.T) {
	bodies := losslessBodies()
	srv := losslessAPI(t, bodies)
	dir := t.TempDir()
	in := e2eWrite(t, dir, "in.jsonl", `{"custom_id":"s1","method":"POST","url":"/v1/audio/speech","body":{"model":"tts-1","input":"hi","voice":"alloy"}}`+"\n")
	out := filepath.Join(dir, "out.jsonl")
	res := e2eRun(t, batch.Config{Input: in, Out: out, BaseURL: srv.URL})
	if res.code != 0 || res.sum.Succeeded != 1 {
		t.Fatalf("exit %d, %d succeeded (%v)\n%s", res.code, res.sum.Succeeded, res.err, res.stderr)
	}
	lines := e2eLines(t, out)
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(lines[0]["response"], &resp); err != nil {
		t.Fatal(err)
	}
	if _, ok := resp["body"]; ok {
		t.Errorf("response has a lossy body: %.80s", resp["body"])
	}
	if got := decodedBody(t, resp["body_base64"]); !bytes.Equal(got, bodies["/v1/audio/speech"]) {
		t.Errorf("body_base64 decodes to %q; want the server's bytes", got)
	}
}

// TestRunIntoTableKeepsBodiesThatAreNotUTF8: the same answers into SQLite
// and PostgreSQL: response_bytes holds each body that is not UTF-8 byte
// for byte (the large one too: table destinations read it into memory).
func TestRunIntoTableKeepsBodiesThatAreNotUTF8(t *testing.T) {
	bodies := losslessBodies()
	srv := losslessAPI(t, bodies)
	for _, b := range []struct {
		name string
		dest func(t *testing.T) string
		hex  string // SQL for response_bytes as hex
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "r.db") }, "lower(hex(response_bytes))"},
		{"postgres", func(t *testing.T) string { return tabletest.Postgres(t) }, "encode(response_bytes, 'hex')"},
	} {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			var in strings.Builder
			ids := []string{"/latin1", "/png", "/big", "/json-bad-byte", "/utf8"}
			for _, p := range ids {
				fmt.Fprintf(&in, `{"id": %q, "url": %q}`+"\n", p, srv.URL+p)
			}
			fmt.Fprintf(&in, `{"id": "/gzip", "url": %q, "headers": {"Accept-Encoding": "gzip"}}`+"\n", srv.URL+"/gzip")
			dest := b.dest(t)
			res := e2eRun(t, batch.Config{Input: e2eWrite(t, dir, "in.jsonl", in.String()), Out: dest})
			if res.code != 0 || res.sum.Succeeded != 6 {
				t.Fatalf("exit %d, %d succeeded (%v)\n%s", res.code, res.sum.Succeeded, res.err, res.stderr)
			}
			rows := tableQuery(t, dest, "SELECT id, coalesce("+b.hex+", ''), coalesce(response_text, '') FROM sluice_results")
			if len(rows) != 6 {
				t.Fatalf("%d rows; want 6", len(rows))
			}
			for _, r := range rows {
				id, got, text := r[0], r[1], r[2]
				if id == "/utf8" {
					if got != "" || text != string(bodies[id]) {
						t.Errorf("%s: response_bytes %q, response_text %q; want none, the text", id, got, text)
					}
					continue
				}
				if want := hex.EncodeToString(bodies[id]); got != want || text != "" {
					t.Errorf("%s: response_bytes of %d hex digits, response_text %.40q; want the %d bytes the server sent, no text", id, len(got), text, len(bodies[id]))
				}
			}
		})
	}
}
