package table

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// TestResponseIsTheAPIsJSONCompacted: the response column holds the API's
// JSON body as the JSONL results do, compacted: no trailing newline (the
// encoders of most servers end a body with one), no white space between
// tokens, strings untouched; PostgreSQL's jsonb prints its own way, the
// same value.
func TestResponseIsTheAPIsJSONCompacted(t *testing.T) {
	forEach(t, func(t *testing.T, dest func(*testing.T) string) {
		d := dest(t)
		tb := open(t, Options{Dest: d})
		if err := tb.QueueResult(item("a", 1), answer("{\"text\": \"two  words\\n\",\n \"n\": [1, 2]}\n", 1), nil); err != nil {
			t.Fatal(err)
		}
		flush(t, tb, 1, 0)
		tb.Close()
		want := `{"text":"two  words\n","n":[1,2]}`
		if isPostgres(d) {
			want = `{"n": [1, 2], "text": "two  words\n"}` // jsonb's own text
		}
		if got := one(t, d, "SELECT response FROM sluice_results"); got != want {
			t.Errorf("response = %q, want %q", got, want)
		}
	})
}

// TestResponseWithBadUTF8IsStored: a JSON body with bytes that are not
// UTF-8 inside a string (which json.Valid takes and jsonb refuses, failing
// the whole transaction) is stored as it came in response_bytes, and the
// rows written beside it are kept.
func TestResponseWithBadUTF8IsStored(t *testing.T) {
	forEach(t, func(t *testing.T, dest func(*testing.T) string) {
		d := dest(t)
		tb := open(t, Options{Dest: d})
		if err := tb.QueueResult(item("good", 1), answer(`{"a":"ok"}`, 1), nil); err != nil {
			t.Fatal(err)
		}
		if err := tb.QueueResult(item("bad", 2), answer("{\"a\":\"\xff\"}", 1), nil); err != nil {
			t.Fatal(err)
		}
		flush(t, tb, 2, 0)
		tb.Close()
		if got := one(t, d, "SELECT "+hexOf(d, "response_bytes")+" FROM sluice_results WHERE id = 'bad'"); got != "7B2261223A22FF227D" {
			t.Errorf("response_bytes = %s, want the body's bytes 7B2261223A22FF227D", got)
		}
		if got := one(t, d, "SELECT count(*) FROM sluice_results WHERE response IS NOT NULL"); got != "1" {
			t.Errorf("%s rows with a JSON response; want 1, the good one", got)
		}
	})
}

// FuzzJSONBody: the JSON column's text is json.Compact's, whether or not
// the fast path (a body already compact) takes it; what is not valid JSON
// does not go there.
func FuzzJSONBody(f *testing.F) {
	for _, s := range []string{`{"a":1}`, "{\"a\": 1}\n", ` [1, "x y", "\"", "\\"] `, `"a\" b"`, "\t{}\r\n", `{"a":"\\\" "}`, `{`, ``, `nul`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !utf8.Valid(body) {
			return // stored as bytes, never given to jsonBody
		}
		got, ok := rowShaper{}.jsonBody(body)
		if ok != json.Valid(body) {
			t.Fatalf("jsonBody(%q) ok = %v, json.Valid says %v", body, ok, !ok)
		}
		if !ok {
			return
		}
		if !utf8.ValidString(got) {
			t.Fatalf("jsonBody(%q) = %q, not UTF-8", body, got)
		}
		var want bytes.Buffer
		json.Compact(&want, body)
		if got != want.String() {
			t.Errorf("jsonBody(%q) = %q, json.Compact gives %q", body, got, want.String())
		}
	})
}
