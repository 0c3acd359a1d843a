//go:build unix

package main

import "syscall"

// openFilesAllowed returns the process's limit on open files (its soft
// RLIMIT_NOFILE, which Go raises to the hard limit at start), and false
// when it cannot tell or there is none.
func openFilesAllowed() (uint64, bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur >= 1<<62 {
		return 0, false
	}
	return r.Cur, true
}
