package table

import (
	"errors"
	"fmt"
	"os"

	"github.com/sluicehq/sluice/internal/flock"
)

// lockSQLiteTable takes the lock that keeps a second run off the table
// of the SQLite database at path: an exclusive flock(2) on a file beside
// the database, PATH.TABLE.sluice-lock, one per results table, so runs
// into two tables of one database do not refuse each other. The lock
// lasts while the returned file is open (closing it releases it; so does
// the process's death). The file itself stays: removing a lock file
// another run is about to lock would let two runs hold "the" lock.
func lockSQLiteTable(path, table string) (*os.File, error) {
	name := path + "." + table + ".sluice-lock"
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
