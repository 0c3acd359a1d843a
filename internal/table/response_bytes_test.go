package table

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/input"
)

// hexOf is SQL for column's bytes in upper-case hex, "NULL" for NULL.
func hexOf(dest, column string) string {
	h := "hex(" + column + ")" // SQLite's hex(NULL) is ''
	if isPostgres(dest) {
		h = "upper(encode(" + column + ", 'hex'))"
	}
	return "CASE WHEN " + column + " IS NULL THEN 'NULL' ELSE " + h + " END"
}

// losslessBodies are bodies a text column would have lost bytes of (they
// were stored with U+FFFD, outside review): not UTF-8, or text with a NUL,
// which PostgreSQL's text cannot hold.
var losslessBodies = map[string]string{
	"latin1":   "caf\xe9",
	"png":      "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00",
	"gzip":     "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\xabV\xca\x05\x00",
	"json-bad": "{\"a\":\"\xff\"}",
	"nul":      "a\x00b",
}

// TestResponseBytesRoundTrip: a body no text column holds whole goes to
// response_bytes as it came (SQLite BLOB, PostgreSQL bytea), response and
// response_text NULL; a UTF-8 body goes where it went before and leaves
// response_bytes NULL. The same for an error's answer in the errors table.
func TestResponseBytesRoundTrip(t *testing.T) {
	forEach(t, func(t *testing.T, dest func(*testing.T) string) {
		d := dest(t)
		tb := open(t, Options{Dest: d})
		bodies := map[string]string{"text": "café\n", "json": `{"a":"é"}`}
		for id, body := range losslessBodies {
			bodies[id] = body
		}
		for id, body := range bodies {
			if err := tb.QueueResult(item(id, 1), answer(body, 1), nil); err != nil {
				t.Fatal(err)
			}
		}
		// An error answer too, in the errors table.
		for id, body := range losslessBodies {
			if err := tb.QueueError(item(id, 2), input.Failure{Class: "fatal", Status: 404, Message: "m", Body: []byte(body)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tb.QueueError(item("text", 2), input.Failure{Class: "fatal", Status: 404, Message: "m", Body: []byte("café")}); err != nil {
			t.Fatal(err)
		}
		flush(t, tb, len(bodies), len(losslessBodies)+1)
		tb.Close()
		errRows := query(t, d, "SELECT id, coalesce(response_text, 'NULL'), "+hexOf(d, "response_bytes")+" FROM sluice_results_errors")
		for _, r := range errRows {
			want := []string{r[0], "NULL", strings.ToUpper(hex.EncodeToString([]byte(losslessBodies[r[0]])))}
			switch {
			case r[0] == "text":
				want = []string{"text", "café", "NULL"}
			case r[0] == "nul" && !isPostgres(d):
				want = []string{"nul", "a\x00b", "NULL"}
			}
			if fmt.Sprint(r) != fmt.Sprint(want) {
				t.Errorf("errors row %q; want %q", r, want)
			}
		}
		if len(errRows) != len(losslessBodies)+1 {
			t.Errorf("%d errors rows; want %d", len(errRows), len(losslessBodies)+1)
		}
		rows := query(t, d, "SELECT id, coalesce(response_text, 'NULL'), "+hexOf(d, "response_bytes")+", CASE WHEN response IS NULL THEN 'true' ELSE 'false' END FROM sluice_results")
		if len(rows) != len(bodies) {
			t.Fatalf("%d rows; want %d", len(rows), len(bodies))
		}
		for _, r := range rows {
			id, text, bytesHex, noJSON := r[0], r[1], r[2], r[3]
			body := bodies[id]
			want := []string{"NULL", strings.ToUpper(hex.EncodeToString([]byte(body))), "true"}
			switch {
			case id == "text":
				want = []string{body, "NULL", "true"}
			case id == "json":
				want = []string{"NULL", "NULL", "false"}
			case id == "nul" && !isPostgres(d):
				want = []string{body, "NULL", "true"} // SQLite's text holds a NUL
			}
			if got := []string{text, bytesHex, noJSON}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: response_text, response_bytes, response IS NULL = %q; want %q", id, got, want)
			}
		}
	})
}

// TestTableFromAnEarlierSluiceGetsResponseBytes: results, errors and
// superseded tables made before response_bytes existed get the column when a run
// opens them, keep their rows, resume from them, and take a body that is
// not UTF-8; a second Open finds nothing to add.
func TestTableFromAnEarlierSluiceGetsResponseBytes(t *testing.T) {
	forEach(t, func(t *testing.T, dest func(*testing.T) string) {
		d := dest(t)
		// The columns before response_bytes.
		before := func(cols []column) (out []column) {
			for _, c := range cols {
				if !addedLater[c.name] {
					out = append(out, c)
				}
			}
			return out
		}
		earlier, earlierErrors := before(resultColumns), before(errorColumns)
		tb := open(t, Options{Dest: d})
		s := tb.store
		ctx := context.Background()
		// Remake the tables as an earlier sluice made them, with a row.
		if err := s.exec(ctx, "DROP TABLE "+s.ident("sluice_results"), "DROP TABLE "+s.ident("sluice_results_errors"),
			createSQL(s.ident("sluice_results"), earlier, true, s.typeOf),
			createSQL(s.ident("sluice_results_errors"), earlierErrors, false, s.typeOf),
			createSQL(s.ident("sluice_results_superseded"), earlier, false, s.typeOf)); err != nil {
			t.Fatal(err)
		}
		tb.Close()
		execSQL(t, d, "INSERT INTO sluice_results (id, line, status, response_text, fingerprint, finished_at) VALUES ('old', 1, 200, 'before', '0000000000000001', '2026-01-01T00:00:00.000Z')")
		for range 2 {
			tb := open(t, Options{Dest: d})
			if tb.Resumed() != 1 {
				t.Fatalf("Resumed() = %d; want 1, the earlier row", tb.Resumed())
			}
			tb.Close()
		}
		tb = open(t, Options{Dest: d})
		if err := tb.QueueResult(item("new", 2), answer("caf\xe9", 1), nil); err != nil {
			t.Fatal(err)
		}
		// The earlier row runs again (its request changed): it moves to
		// the superseded table, which got the column too.
		tb.Done().Redo("old") // what the runner does
		if err := tb.QueueResult(item("old", 1), answer("\xff", 2), nil); err != nil {
			t.Fatal(err)
		}
		if err := tb.QueueError(item("e", 3), input.Failure{Class: "fatal", Status: 404, Message: "m", Body: []byte("\xfe")}); err != nil {
			t.Fatal(err)
		}
		flush(t, tb, 2, 1)
		tb.Close()
		if got := one(t, d, "SELECT "+hexOf(d, "response_bytes")+" FROM sluice_results_errors"); got != "FE" {
			t.Errorf("errors row's response_bytes = %s; want FE", got)
		}
		got := query(t, d, "SELECT id, coalesce(response_text, 'NULL'), "+hexOf(d, "response_bytes")+" FROM sluice_results ORDER BY id")
		if want := [][]string{{"new", "NULL", "636166E9"}, {"old", "NULL", "FF"}}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("results rows = %q; want %q", got, want)
		}
		got = query(t, d, "SELECT id, response_text, "+hexOf(d, "response_bytes")+" FROM sluice_results_superseded")
		if want := [][]string{{"old", "before", "NULL"}}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("superseded rows = %q; want %q", got, want)
		}
	})
}
