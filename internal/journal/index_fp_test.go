package journal

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/input"
)

func TestIndexCompareAndRedo(t *testing.T) {
	x := NewIndex()
	x.markDoneFP(idHash("same"), FoldFingerprint(11))
	x.markDoneFP(idHash("changed"), FoldFingerprint(22))
	x.markDoneFP(idHash("old"), 0) // a line from before fingerprints
	x.markDoneFP(idHash("twice"), FoldFingerprint(33))
	x.markDoneFP(idHash("twice"), FoldFingerprint(44)) // the last line counts
	tests := []struct {
		id   string
		fp   uint64
		want Change
	}{
		{"same", 11, Unchanged},
		{"changed", 23, Changed},
		{"old", 5, Unrecorded},
		{"never", 5, Unrecorded},
		{"twice", 44, Unchanged},
		{"twice", 33, Changed},
	}
	for _, tt := range tests {
		if got := x.Compare(tt.id, tt.fp); got != tt.want {
			t.Errorf("Compare(%q, %d) = %v; want %v", tt.id, tt.fp, got, tt.want)
		}
	}
	x.Redo("changed")
	if x.isDone(idHash("changed")) || !x.isDone(idHash("same")) {
		t.Errorf("after Redo(changed): isDone(changed) = %v, isDone(same) = %v; want false, true", x.isDone(idHash("changed")), x.isDone(idHash("same")))
	}
}

// The fingerprints survive the table's growth.
func TestIndexFingerprintsSurviveGrowth(t *testing.T) {
	x := NewIndex()
	const n = 50_000
	for i := range n {
		x.markDoneFP(idHash(uuidLike(i)), FoldFingerprint(uint64(i)*7919+1))
	}
	for i := range n {
		if got := x.Compare(uuidLike(i), uint64(i)*7919+1); got != Unchanged {
			t.Fatalf("Compare(id %d) = %v after growth; want Unchanged", i, got)
		}
	}
}

// TestIDIndexMemoryPerIDWithFingerprints holds the 40-byte budget for a
// resumed run, whose index keeps a fingerprint for every id.
func TestIDIndexMemoryPerIDWithFingerprints(t *testing.T) {
	if testing.Short() {
		t.Skip("adds a million ids")
	}
	const n = 1_000_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := NewIndex()
	for i := range n {
		x.markDoneFP(idHash(uuidLike(i)), FoldFingerprint(uint64(i)+1))
	}
	x.Reserve(n) // as the runner does with the input's line count
	runtime.GC()
	runtime.ReadMemStats(&after)
	tables := len(x.hashes)*8 + len(x.lines)*4 + len(x.fps)*4
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	perID := float64(int64(tables)+max(heap, 0)) / n
	t.Logf("Index with fingerprints: %.1f bytes/id for %d ids (tables %d B, heap growth %d B)", perID, x.Len(), tables, heap)
	if perID >= 40 {
		t.Errorf("%.1f bytes/id; want under 40", perID)
	}
	runtime.KeepAlive(x)
}

func TestNumbered(t *testing.T) {
	for _, tt := range []struct {
		path string
		n    int
		want string
	}{
		{"out.jsonl", 1, "out.1.jsonl"},
		{"dir.v2/out.errors.jsonl", 3, "dir.v2/out.errors.3.jsonl"},
		{"results", 2, "results.2"},
		{".hidden", 1, ".hidden.1"},
	} {
		if got := numbered(tt.path, tt.n); got != tt.want {
			t.Errorf("numbered(%q, %d) = %q; want %q", tt.path, tt.n, got, tt.want)
		}
	}
}

// Compact keeps the last line of each id, in order, and moves the others
// to a numbered file it never overwrites; a crash-left duplicate (read
// back by Open) goes too.
func TestCompactKeepsTheLastLineOfEachID(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "out.jsonl")
	old := `{"id":"a","v":1}` + "\n" + `{"id":"b","v":1}` + "\n" + `{"id":"c","v":1}` + "\n" + `{"id":"c","v":2}` + "\n"
	if err := os.WriteFile(results, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "out.1.jsonl"), []byte("taken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := Open(Options{ResultsPath: results, ErrorsPath: filepath.Join(dir, "out.errors.jsonl")}, input.ValidLineID)
	if err != nil {
		t.Fatal(err)
	}
	j.Done().Redo("a")
	if err := j.QueueSucceeded("a", []byte(`{"id":"a","v":2}`)); err != nil {
		t.Fatal(err)
	}
	moved, aside, err := j.Compact()
	if err != nil {
		t.Fatal(err)
	}
	if err := j.QueueSucceeded("d", []byte(`{"id":"d","v":1}`)); err != nil { // still usable
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "out.2.jsonl"); moved != 2 || aside != want {
		t.Errorf("Compact() = %d, %q; want 2, %q", moved, aside, want)
	}
	got, _ := os.ReadFile(results)
	if want := `{"id":"b","v":1}` + "\n" + `{"id":"c","v":2}` + "\n" + `{"id":"a","v":2}` + "\n" + `{"id":"d","v":1}` + "\n"; string(got) != want {
		t.Errorf("results after Compact:\n%s\nwant:\n%s", got, want)
	}
	gotAside, _ := os.ReadFile(aside)
	if want := `{"id":"a","v":1}` + "\n" + `{"id":"c","v":1}` + "\n"; string(gotAside) != want {
		t.Errorf("%s:\n%s\nwant:\n%s", aside, gotAside, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out.1.jsonl")); string(b) != "taken\n" {
		t.Errorf("out.1.jsonl was overwritten: %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files left: %s; want out, out.1 and out.2 (no errors file: nothing failed)", strings.Join(names, " "))
	}
}
