package table

import (
	"errors"
	"testing"
)

// TestIDCheckRefusesNULOnlyForPostgres: PostgreSQL's text holds no NUL, so
// its check refuses such an id; SQLite and a JSONL file take any id.
func TestIDCheckRefusesNULOnlyForPostgres(t *testing.T) {
	pg := IDCheck("postgres://127.0.0.1/test")
	if pg == nil || !errors.Is(pg("bad\x00id"), ErrIDNUL) || pg("fine") != nil {
		t.Errorf("postgres check: refuses NUL %v, takes a plain id %v", pg != nil && pg("bad\x00id") != nil, pg != nil && pg("fine") == nil)
	}
	for _, dest := range []string{"sqlite:a.db", "out.jsonl"} {
		if IDCheck(dest) != nil {
			t.Errorf("IDCheck(%q) is not nil: every id fits", dest)
		}
	}
}
