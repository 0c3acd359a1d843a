//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package flock

import "os"

// Lock does nothing where flock(2) is missing: there, two runs on the
// same file are not caught.
func Lock(*os.File) error { return nil }
