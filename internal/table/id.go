package table

import (
	"errors"
	"strings"
)

// ErrIDNUL: an id holds a NUL byte, which PostgreSQL text cannot store.
var ErrIDNUL = errors.New("id holds a NUL, which PostgreSQL cannot store")

// IDCheck returns the check an id must pass to be stored at dest (an -o
// value): for PostgreSQL, that it holds no NUL. It returns nil when any
// id fits (SQLite, a JSONL file). The check is cheap (one byte scan) and
// safe for concurrent use; the runner calls it on each item as it reads
// it, so that an id the destination cannot store is a bad line, found
// before it is sent, not a failed write after it was paid for.
func IDCheck(dest string) func(id string) error {
	if kind, _, ok := parse(dest); !ok || kind != Postgres {
		return nil
	}
	return checkPostgresID
}

func checkPostgresID(id string) error {
	if strings.IndexByte(id, 0) >= 0 {
		return ErrIDNUL
	}
	return nil
}
