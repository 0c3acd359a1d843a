//go:build !linux

package batch

import "os"

// createSpool makes a spool file in dir (see createNamedSpool).
func createSpool(dir string) (*os.File, string, error) { return createNamedSpool(dir) }
