package table

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/sluicehq/sluice/internal/flock"
)

// Errors Open returns wrapped, for callers to test with errors.Is; all of
// them are in how the run was asked for, found before anything is sent.
var (
	// ErrShape: an existing table lacks a column, has one of another type,
	// or lacks the primary key the results need.
	ErrShape = errors.New("incompatible table")
	// ErrInUse: another run holds the table.
	ErrInUse = flock.ErrLocked
	// ErrUnreachable: the database could not be opened or reached.
	ErrUnreachable = errors.New("cannot reach the database")
	// ErrName: the destination or the table name is not one this package
	// takes.
	ErrName = errors.New("bad destination")
)

// DefaultName is the results table's name when none is given.
const DefaultName = "sluice_results"

// Kind is a database kind.
type Kind int

const (
	// SQLite: `sqlite:PATH`, PATH with SQLite's own URI parameters after a
	// '?', if any (_pragma=..., _busy_timeout=...).
	SQLite Kind = iota + 1
	// Postgres: a postgres:// or postgresql:// URL, its parameters (such
	// as search_path, sslmode) honoured as libpq honours them.
	Postgres
)

// IsDestination reports whether out names a database rather than a file:
// it starts with sqlite:, postgres:// or postgresql://.
func IsDestination(out string) bool {
	_, _, ok := parse(out)
	return ok
}

func parse(out string) (Kind, string, bool) {
	switch {
	case strings.HasPrefix(out, "sqlite:"):
		return SQLite, strings.TrimPrefix(out, "sqlite:"), true
	case strings.HasPrefix(out, "postgres://"), strings.HasPrefix(out, "postgresql://"):
		return Postgres, out, true
	}
	return 0, "", false
}

// sqlitePath splits `sqlite:` what follows into the file's path and the
// driver's parameters. sqlite:///abs/path and sqlite://rel are taken as
// /abs/path and rel.
func sqlitePath(rest string) (path, query string, err error) {
	rest = strings.TrimPrefix(rest, "//")
	path, query, _ = strings.Cut(rest, "?")
	switch {
	case path == "":
		return "", "", fmt.Errorf("%w: sqlite: needs a file's path, as in sqlite:answers.db", ErrName)
	case path == ":memory:" || strings.Contains(query, "mode=memory"):
		return "", "", fmt.Errorf("%w: %s: an in-memory database keeps nothing: give a file", ErrName, path)
	}
	if _, err := url.ParseQuery(query); err != nil {
		return "", "", fmt.Errorf("%w: sqlite:%s: its parameters: %v", ErrName, rest, err)
	}
	return path, query, nil
}

// validName is a table name this package takes: lower case (PostgreSQL
// folds unquoted names to it, so a query without quotes finds the table),
// short enough that the suffixes (_errors, _superseded, _12) stay under
// PostgreSQL's 63 bytes.
var validName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,39}$`)

func checkName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("%w: --table %q: want a lower-case name of letters, digits and _, not starting with a digit, at most 40 long (for a schema, give search_path in the URL)", ErrName, name)
	}
	return nil
}

// Describe names a destination for people: sqlite:PATH as given, a
// PostgreSQL URL with its password, if any, replaced by ***.
func Describe(out string) string {
	kind, rest, ok := parse(out)
	if !ok || kind == SQLite {
		if path, _, err := sqlitePath(rest); ok && err == nil {
			return "sqlite:" + path
		}
		return out
	}
	u, err := url.Parse(rest)
	if err != nil {
		return "postgres://…" // unparsable: it may hold a password anywhere
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "***")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "***")
		u.RawQuery = q.Encode()
	}
	return strings.Replace(u.String(), "%2A%2A%2A", "***", -1)
}

// File returns the database file a `sqlite:` destination names, "" for
// any other destination.
func File(out string) string {
	kind, rest, ok := parse(out)
	if !ok || kind != SQLite {
		return ""
	}
	path, _, err := sqlitePath(rest)
	if err != nil {
		return ""
	}
	return path
}
