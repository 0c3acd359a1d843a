package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// The README names the files a run writes; the names must be the ones the
// runner uses (it said INPUT.results.jsonl, where batch.jsonl gives
// batch.results.jsonl).
func TestREADMEResultsFileNames(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"ok": true}`))
	}))
	defer api.Close()
	t.Chdir(t.TempDir())
	input := []byte(`{"id": "a", "url": "/ok"}` + "\n" + `{"id": "b", "url": "/missing"}` + "\n")
	if err := os.WriteFile("batch.jsonl", input, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args                []string
		results, errorsFile string
	}{
		{[]string{"batch.jsonl"}, "batch.results.jsonl", "batch.errors.jsonl"},
		{[]string{"-"}, "stdin.results.jsonl", "stdin.errors.jsonl"},
		{[]string{"-o", "out.jsonl", "batch.jsonl"}, "out.jsonl", "out.errors.jsonl"},
	}
	for _, tt := range tests {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetIn(bytes.NewReader(input))
		root.SetArgs(append([]string{"run", "--progress", "none", "--retries", "0", "--base-url", api.URL}, tt.args...))
		err := root.Execute()
		if code := exitCode(err); code != 1 {
			t.Fatalf("sluice run %v: exit %d (%v); want 1 (one item fails)\n%s", tt.args, code, err, out.String())
		}
		if want := "results in " + tt.results + ", failures in " + tt.errorsFile; !strings.Contains(out.String(), want) {
			t.Errorf("sluice run %v does not say %q:\n%s", tt.args, want, out.String())
		}
		for _, name := range []string{tt.results, tt.errorsFile} {
			if _, err := os.Stat(name); err != nil {
				t.Errorf("sluice run %v: %v", tt.args, err)
			}
			if !bytes.Contains(readme, []byte("`"+name+"`")) {
				t.Errorf("README.md does not name %s, which sluice run %v writes", name, tt.args)
			}
		}
	}
	if bytes.Contains(readme, []byte("INPUT.results.jsonl")) {
		t.Errorf("README.md still says results go to INPUT.results.jsonl")
	}
}
