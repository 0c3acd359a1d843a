package journal

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/input"
)

// TestReadWritesNothing protects the dry run: Read finds what Open would
// resume and changes no byte of the results file, even one Open would
// repair, and creates nothing where there is no file.
func TestReadWritesNothing(t *testing.T) {
	tests := []struct {
		name, content       string
		exists, torn        bool
		done                []string
		unrecorded, wantErr int // wantErr: 1 when Read must fail as Open does
	}{
		{name: "missing"},
		{name: "empty", content: "", exists: true},
		{name: "whole", content: `{"id":"a"}` + "\n" + `{"id":"b"}` + "\n", exists: true, done: []string{"a", "b"}, unrecorded: 2},
		{name: "torn", content: `{"id":"a"}` + "\n" + `{"id":"b"`, exists: true, torn: true, done: []string{"a"}, unrecorded: 1},
		{name: "damaged", content: "nonsense\n" + `{"id":"a"}` + "\n", exists: true, wantErr: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.jsonl")
			if tt.name != "missing" {
				if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			e, err := Read(Options{ResultsPath: path, ErrorsPath: filepath.Join(dir, "out.errors.jsonl"), Fingerprint: input.LineFingerprint}, input.ValidLineID)
			if (err != nil) != (tt.wantErr == 1) {
				t.Fatalf("Read: %v; want an error: %v", err, tt.wantErr == 1)
			}
			if err == nil {
				if e.Exists != tt.exists || e.Torn != tt.torn || e.Unrecorded != tt.unrecorded || e.Done.Len() != len(tt.done) {
					t.Errorf("Read = exists %v, torn %v, unrecorded %d, %d done; want %v, %v, %d, %d", e.Exists, e.Torn, e.Unrecorded, e.Done.Len(), tt.exists, tt.torn, tt.unrecorded, len(tt.done))
				}
				for _, id := range tt.done {
					if !e.Done.Has(id) {
						t.Errorf("Done lacks %q", id)
					}
				}
			} else if !strings.Contains(err.Error(), "line 1: not valid JSON") {
				t.Errorf("Read's error %q does not name the line", err)
			}
			got, rerr := os.ReadFile(path)
			switch {
			case tt.name == "missing" && !errors.Is(rerr, fs.ErrNotExist):
				t.Errorf("Read created %s", path)
			case tt.name != "missing" && !bytes.Equal(got, []byte(tt.content)):
				t.Errorf("Read changed the file: %q; want %q", got, tt.content)
			}
			if ents, _ := os.ReadDir(dir); len(ents) > 1 || tt.name == "missing" && len(ents) > 0 {
				t.Errorf("Read left files: %v", ents)
			}
		})
	}
}
