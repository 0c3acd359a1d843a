package batch

import (
	"os"
	"runtime"
	"testing"
)

// A spool file leaves no name behind it, even for a moment where the
// system allows it: a kill -9 between making it and removing its name
// left an empty .sluice-spool-* file beside the results.
func TestSpoolFileHasNoName(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("an open file keeps its name on Windows")
	}
	dir := t.TempDir()
	f, name, err := createSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("body"); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if name != "" || len(entries) != 0 {
		t.Errorf("name %q, %d entries in the directory; want none", name, len(entries))
	}
}
