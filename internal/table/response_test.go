package table

import (
	"testing"
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
