package batch

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// createSpool makes a spool file in dir that never has a name (O_TMPFILE):
// made with a name and removed at once, a kill -9 between the two left
// an empty .sluice-spool-* file beside the results now and then. Where
// the file system has no O_TMPFILE, it falls back to a name.
func createSpool(dir string) (*os.File, string, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return createNamedSpool(dir)
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir, "(spool)")), "", nil
}
