//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package table

import "os"

// lockFile does nothing where flock(2) is missing: there, two runs on
// one SQLite table are not refused at Open (the second stops at its first
// row for an id the other stored: the primary key refuses it).
func lockFile(*os.File) error { return nil }
