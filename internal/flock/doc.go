// Package flock keeps a second run off a file another run is using: the
// results journal and a SQLite table each hold such a lock while a run
// writes them.
package flock

import "errors"

// ErrLocked is what Lock returns when another process holds the lock.
var ErrLocked = errors.New("in use by another run")
