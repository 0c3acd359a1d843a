package table

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/input"
)

// TestSQLiteSecondRunIsRefused: a second Open of the same SQLite table
// fails at once with ErrInUse, naming the file and the table, before it
// touches the tables (the first run's errors rows stay); another table of
// the same database opens; once the first closes, the table opens again.
func TestSQLiteSecondRunIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "two.db")
	dest := "sqlite:" + path
	first := open(t, Options{Dest: dest})
	first.QueueError(item("a", 1), input.Failure{Class: "timeout", Message: "timed out"})
	flush(t, first, 0, 1)
	_, err := Open(context.Background(), Options{Dest: dest})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), path+" table sluice_results: in use by another run") {
		t.Fatalf("second Open = %v, want ErrInUse naming %s and the table", err, path)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var errs int
	if err := db.QueryRow("SELECT count(*) FROM sluice_results_errors").Scan(&errs); err != nil || errs != 1 {
		t.Errorf("the first run's errors table holds %d rows (%v) after the refused Open, want 1", errs, err)
	}
	if other, err := Open(context.Background(), Options{Dest: dest, Name: "other"}); err != nil {
		t.Errorf("Open of another table = %v, want it to work", err)
	} else {
		other.Close()
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second := open(t, Options{Dest: dest})
	if n := second.Resumed(); n != 0 {
		t.Errorf("resumed %d", n)
	}
	second.Close()
}

// TestSQLiteSecondRunThroughALinkIsRefused: a run naming the database
// through a symbolic link, to the file or to its directory, meets the
// lock of a run naming it directly (a reviewer's second run took a lock
// of its own beside the link and sent the first run's items again).
func TestSQLiteSecondRunThroughALinkIsRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lock.db")
	first := open(t, Options{Dest: "sqlite:" + path})
	defer first.Close()
	fileLink := filepath.Join(dir, "link.db")
	dirLink := filepath.Join(t.TempDir(), "dirlink")
	for _, l := range [][2]string{{path, fileLink}, {dir, dirLink}} {
		if err := os.Symlink(l[0], l[1]); err != nil {
			t.Skipf("no symbolic links here: %v", err)
		}
	}
	for _, via := range []string{fileLink, filepath.Join(dirLink, "lock.db")} {
		second, err := Open(context.Background(), Options{Dest: "sqlite:" + via})
		if err == nil {
			second.Close()
		}
		if !errors.Is(err, ErrInUse) {
			t.Errorf("Open through %s = %v, want ErrInUse: it is the same database", via, err)
		}
	}
}
