package journal

import (
	"os"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/input"
)

func TestJournalRepairsTornLastLine(t *testing.T) {
	long := `{"id":"long","pad":"` + strings.Repeat("x", 200<<10) + `"}` // past the reader's 64 KiB buffer
	tests := []struct {
		name     string
		file     string
		maxLine  int
		want     string // the file after Open
		wantDone []string
	}{
		{"empty", "", 0, "", nil},
		{"whole lines", "{\"id\":\"a\"}\n{\"id\":\"b\"}\n", 0, "{\"id\":\"a\"}\n{\"id\":\"b\"}\n", []string{"a", "b"}},
		{"partial line", "{\"id\":\"a\"}\n{\"id\":\"b\",\"bo", 0, "{\"id\":\"a\"}\n", []string{"a"}},
		{"complete JSON without newline", "{\"id\":\"a\"}\n{\"id\":\"b\"}", 0, "{\"id\":\"a\"}\n", []string{"a"}},
		{"garbage", "{\"id\":\"a\"}\n\x00\x00\x00\x00", 0, "{\"id\":\"a\"}\n", []string{"a"}},
		{"invalid last line with newline", "{\"id\":\"a\"}\n{\"id\":\"b\n", 0, "{\"id\":\"a\"}\n", []string{"a"}},
		{"only a torn line", "{\"id\":\"a", 0, "", nil},
		{"blank lines kept", "{\"id\":\"a\"}\n\n \t\n{\"id\":\"b\"}\n", 0, "{\"id\":\"a\"}\n\n \t\n{\"id\":\"b\"}\n", []string{"a", "b"}},
		{"CRLF", "{\"id\":\"a\"}\r\n", 0, "{\"id\":\"a\"}\r\n", []string{"a"}},
		{"long line", long + "\n", 0, long + "\n", []string{"long"}},
		{"long torn line", "{\"id\":\"a\"}\n" + long, 0, "{\"id\":\"a\"}\n", []string{"a"}},
		{"torn line over MaxLine", "{\"id\":\"a\"}\n" + long, 1024, "{\"id\":\"a\"}\n", []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := journalPaths(t)
			opts.MaxLine = tt.maxLine
			if err := os.WriteFile(opts.ResultsPath, []byte(tt.file), 0o666); err != nil {
				t.Fatal(err)
			}
			j := openJournal(t, opts)
			if got := readFile(t, opts.ResultsPath); got != tt.want {
				t.Errorf("file after open = %.100q; want %.100q", got, tt.want)
			}
			if got, want := j.Resumed(), len(tt.wantDone); got != want {
				t.Errorf("Resumed() = %d; want %d", got, want)
			}
			for _, id := range tt.wantDone {
				if !j.Done().Has(id) {
					t.Errorf("Done().Has(%q) = false; want true", id)
				}
			}
			// The torn item is not done: the run does it again, and its new
			// line lands after the whole lines.
			succeed(t, j, `{"id":"new"}`)
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			if got, want := readFile(t, opts.ResultsPath), tt.want+"{\"id\":\"new\"}\n"; got != want {
				t.Errorf("file after an append = %.100q; want %.100q", got, want)
			}
		})
	}
}

// TestJournalRefusesDamagedFile: only a last line can be torn by a crash;
// anything else wrong means the file is not ours, and the journal must not
// guess (cutting would lose results, skipping would duplicate them).
func TestJournalRefusesDamagedFile(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		maxLine int
		wantErr string
	}{
		{"bad middle line", "{\"id\":\"a\"}\n{\"id\":\n{\"id\":\"c\"}\n", 0, "in.results.jsonl line 2: not valid JSON"},
		{"no id", "{\"id\":\"a\"}\n{\"status\":200}\n", 0, "in.results.jsonl line 2: no id"},
		{"no id on the last line", "{\"status\":200}\n", 0, "in.results.jsonl line 1: no id"},
		{"line over MaxLine", "{\"id\":\"a\"}\n{\"id\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}\n", 32, "in.results.jsonl line 2: longer than 32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := journalPaths(t)
			opts.MaxLine = tt.maxLine
			if err := os.WriteFile(opts.ResultsPath, []byte(tt.file), 0o666); err != nil {
				t.Fatal(err)
			}
			j, err := Open(opts, input.ValidLineID)
			if err == nil {
				j.Close()
				t.Fatalf("Open = nil error; want %q", tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "journal: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Open error = %q; want one with %q", err, tt.wantErr)
			}
			if got := readFile(t, opts.ResultsPath); got != tt.file {
				t.Errorf("file after a refused open = %q; want it untouched", got)
			}
		})
	}
}
