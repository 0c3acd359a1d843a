package table

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/internal/flock"
)

// lockSQLiteTable takes the lock that keeps a second run off the table
// of the SQLite database at path: an exclusive flock(2) on a file beside
// the database, PATH.TABLE.sluice-lock, one per results table, so runs
// into two tables of one database do not refuse each other. The lock
// lasts while the returned file is open (closing it releases it; so does
// the process's death). The file itself stays: removing a lock file
// another run is about to lock would let two runs hold "the" lock.
//
// The lock file is named after the database's real path, symbolic links
// resolved, so that a run naming it through a link (to the file or to a
// directory on its way) meets the lock of a run naming it directly.
// (A hard link or a second mount of the directory still names another
// lock file.)
func lockSQLiteTable(path, table string) (*os.File, error) {
	name := realPath(path) + "." + table + ".sluice-lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: sqlite:%s: the lock file: %w", ErrUnreachable, path, err)
	}
	if err := flock.Lock(f); err != nil {
		f.Close()
		if errors.Is(err, ErrInUse) {
			return nil, fmt.Errorf("%s table %s: %w", path, table, ErrInUse)
		}
		return nil, fmt.Errorf("%w: sqlite:%s: locking %s: %w", ErrUnreachable, path, name, err)
	}
	return f, nil
}

// realPath returns path with its symbolic links resolved; for a database
// not made yet, its directory's. Where even that fails, path as given:
// opening the database will then say what is wrong with it.
func realPath(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return real
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
		return filepath.Join(dir, filepath.Base(path))
	}
	return path
}
