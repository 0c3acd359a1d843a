package table

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/table/tabletest"
)

// TestPostgresSecondRunIsRefused: the advisory lock keeps a second run off
// a table another one holds, and goes with the first one's connection.
func TestPostgresSecondRunIsRefused(t *testing.T) {
	dest := postgresDest(t)
	first := open(t, Options{Dest: dest})
	if _, err := Open(context.Background(), Options{Dest: dest}); !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open = %v, want ErrInUse", err)
	}
	if other, err := Open(context.Background(), Options{Dest: dest, Name: "other"}); err != nil {
		t.Errorf("Open of another table = %v, want it to work", err)
	} else {
		other.Close()
	}
	first.Close()
	second := open(t, Options{Dest: dest})
	second.Close()
}

// TestPostgresStoppedMidRun: a server that drops the connection mid-run
// (here: the test ends the Table's backend, as a restart or an
// administrator would) fails the Flush that meets it; what was committed
// before stays, and nothing of the failed flush is counted.
func TestPostgresStoppedMidRun(t *testing.T) {
	dest := postgresDest(t)
	tb := open(t, Options{Dest: dest})
	tb.QueueResult(item("a", 1), answer(`{}`, 1), nil)
	flush(t, tb, 1, 0)
	terminate(t, dest)
	tb.QueueResult(item("b", 2), answer(`{}`, 1), nil)
	if r, _, err := tb.Flush(); err == nil || r != 0 {
		t.Fatalf("Flush after the backend ended = %d, %v; want an error, nothing counted", r, err)
	}
	if err := tb.QueueResult(item("c", 3), answer(`{}`, 1), nil); err == nil {
		t.Error("QueueResult after the failure succeeded")
	}
	if got := one(t, dest, "SELECT string_agg(id, ',') FROM sluice_results"); got != "a" {
		t.Errorf("the table holds %q, want a", got)
	}
}

func terminate(t *testing.T, dest string) {
	if tabletest.Terminate(t, dest) == 0 {
		t.Fatal("no connection to end")
	}
}

// TestPostgresTakesWhatJSONBRefuses: JSON that is valid but that jsonb
// refuses (\u0000, a lone surrogate, a number beyond numeric) goes to
// response_text as it came, not into a failed transaction; a body with
// NUL or invalid UTF-8, which text cannot hold, goes to response_bytes
// (TestResponseBytesRoundTrip). Metadata
// keeps its members queryable (metadata->>'m'), its NUL made U+FFFD: a
// JSON string holding its text left metadata->>'m' NULL for the row
// (outside review).
func TestPostgresTakesWhatJSONBRefuses(t *testing.T) {
	dest := postgresDest(t)
	tb := open(t, Options{Dest: dest})
	bodies := map[string]string{
		"nul":       `{"s":"a\u0000b"}`,
		"surrogate": `{"s":"\ud800"}`,
		"exponent":  `{"n":1e999999}`,
		"pair":      `{"s":"\ud83d\ude00"}`,
		"binary":    "a\x00b\xffc",
	}
	for id, body := range bodies {
		it := item(id, 1)
		it.Metadata = []byte(`{"m":"x\u0000y"}`)
		if err := tb.QueueResult(it, answer(body, 1), nil); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, tb, len(bodies), 0)
	got := query(t, dest, "SELECT id, coalesce(response::text, '-'), coalesce(response_text, encode(response_bytes, 'escape'), '-'), metadata ->> 'm' FROM sluice_results ORDER BY id")
	want := [][]string{
		{"binary", "-", `a\000b\377c`, "x\uFFFDy"},
		{"exponent", "-", `{"n":1e999999}`, "x\uFFFDy"},
		{"nul", "-", `{"s":"a\u0000b"}`, "x\uFFFDy"},
		{"pair", `{"s": "😀"}`, "-", "x\uFFFDy"},
		{"surrogate", "-", `{"s":"\ud800"}`, "x\uFFFDy"},
	}
	if !equalRows(got, want) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}
	// An error row's API answer and message too.
	tb.QueueError(item("e", 2), input.Failure{Class: "fatal", Message: "bad\x00", Body: []byte("x\x00")})
	flush(t, tb, 0, 1)
}

// TestPostgresHonoursTheURLsParameters: search_path decides where the
// tables go (every test relies on it); the tables are found there again.
func TestPostgresHonoursTheURLsParameters(t *testing.T) {
	dest := postgresDest(t)
	tb := open(t, Options{Dest: dest, Name: "answers"})
	tb.Close()
	schema := one(t, postgresURL(), "SELECT table_schema FROM information_schema.tables WHERE table_name = 'answers' AND table_schema = '"+schemaOf(t, dest)+"'")
	if schema != schemaOf(t, dest) {
		t.Errorf("answers made in %q, want %q", schema, schemaOf(t, dest))
	}
	bad := strings.Replace(dest, "search_path=", "search_path=no_such_schema_x", 1)
	if _, err := Open(context.Background(), Options{Dest: bad}); !errors.Is(err, ErrName) || !strings.Contains(err.Error(), "search_path") {
		t.Errorf("Open with a search_path naming no schema = %v, want ErrName naming search_path", err)
	}
}
