package main_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/mock"
)

// Items 4 and 5 of issue 10 through the built binary: a resumed run says
// how many requests changed and runs them again (or keeps them with
// --skip-changed), and --restart says where the earlier results went.
func TestRunBinaryResumesOnlyWhatIsTheSame(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("tested on Unix")
	}
	bin := binBuild(t)
	srv := binMock(t, mock.Config{})
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	write := func(model string) {
		t.Helper()
		content := `{"id": "a", "url": "/x/a", "body": {"model": "m-1"}}` + "\n" +
			`{"id": "b", "url": "/x/b", "body": {"model": "` + model + `"}}` + "\n"
		if err := os.WriteFile(in, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("m-1")
	base := []string{"run", "--progress", "none", "--base-url", srv.URL(), in}
	if r := binRun(t, bin, dir, base...); r.code != 0 {
		t.Fatalf("first run: exit %d\n%s", r.code, r.stderr)
	}
	write("m-2")
	r := binRun(t, bin, dir, append([]string{"run", "--skip-changed"}, base[1:]...)...)
	if r.code != 0 || !strings.Contains(r.stderr, "1 item changed since the earlier result: kept the earlier results (--skip-changed)") {
		t.Errorf("--skip-changed: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = binRun(t, bin, dir, base...)
	if r.code != 0 || !strings.Contains(r.stderr, "1 item changed since the earlier result: run again") ||
		!strings.Contains(r.stderr, "1 succeeded") || !strings.Contains(r.stderr, filepath.Join(dir, "in.results.1.jsonl")) {
		t.Errorf("rerun: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = binRun(t, bin, dir, append([]string{"run", "--restart"}, base[1:]...)...)
	if aside := filepath.Join(dir, "in.results.2.jsonl"); r.code != 0 || !strings.Contains(r.stderr, "earlier results moved to "+aside) {
		t.Errorf("--restart: exit %d, want the earlier results named as moved to %s; stderr:\n%s", r.code, aside, r.stderr)
	}
	help := binRun(t, bin, dir, "run", "--help")
	for _, want := range []string{"--skip-changed", "--id-column", "line number", "moved aside"} {
		if !strings.Contains(help.stdout, want) {
			t.Errorf("run --help does not mention %q", want)
		}
	}
}
