package batch

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// data.jsonl and data.csv share data.results.jsonl and data.errors.jsonl
// by default: a run of one took the other's results for its own and
// emptied its errors file without a word. The run now names the other.
func TestStemTwinsShareTheDefaultResults(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"data.jsonl", "data.csv", "data.txt", "data.results.jsonl", "data.errors.jsonl", "data.jsonl.bak", "other.csv", "database.csv"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := Config{Input: filepath.Join(dir, "data.jsonl")}
	got := c.stemTwins()
	want := []string{filepath.Join(dir, "data.csv"), filepath.Join(dir, "data.txt")}
	if !slices.Equal(got, want) {
		t.Errorf("twins of data.jsonl: %q; want %q", got, want)
	}
	c.Out = filepath.Join(dir, "mine.jsonl")
	if got := c.stemTwins(); got != nil {
		t.Errorf("with -o: %q; want none", got)
	}
}
