package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

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

// testRunKillNineChanged is the reviewer's kill -9 during a resume whose
// every request changed: killed once some new results are written, the
// results file holds each id once at most (not the earlier result and
// the new one), every earlier result is in it or in the numbered file
// beside it, and the next run leaves each id's new result, once.
func testRunKillNineChanged(t *testing.T, bin string) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(3 * time.Millisecond)
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, `{"echo": %s}`, b)
	}))
	defer api.Close()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	results := filepath.Join(dir, "in.results.jsonl")
	const n = 300
	ids := make([]string, n)
	write := func(v int) {
		t.Helper()
		var b strings.Builder
		for i := range ids {
			ids[i] = fmt.Sprintf("k%03d", i)
			fmt.Fprintf(&b, `{"id": %q, "url": "/p", "body": {"id": %q, "v": %d}}`+"\n", ids[i], ids[i], v)
		}
		if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"run", "-c", "2", "--progress", "none", "--base-url", api.URL, "in.jsonl"}
	write(1)
	if r := binRun(t, bin, dir, args...); r.code != 0 {
		t.Fatalf("first run: exit %d\n%s", r.code, r.stderr)
	}
	write(2)
	cmd, _, stderr := binStart(t, bin, dir, args...)
	newLines := func() int {
		b, _ := os.ReadFile(results)
		return bytes.Count(b, []byte(`"v":2`))
	}
	binWaitFor(t, "new results", 30*time.Second, func() bool { return newLines() >= 20 })
	cmd.Process.Signal(syscall.SIGKILL)
	if err := cmd.Wait(); err == nil {
		t.Fatalf("the resume ended before the kill\n%s", stderr.String())
	}
	got := binResults(t, results, ids, true) // fails on an id twice
	if len(got) >= n {
		t.Fatalf("killed with %d new results written, the results file holds %d ids; want fewer than %d (the changed ids' earlier results moved aside)", newLines(), len(got), n)
	}
	earlier := map[string]bool{}
	for _, name := range []string{results, filepath.Join(dir, "in.results.1.jsonl")} {
		b, _ := os.ReadFile(name)
		for _, line := range bytes.Split(b, []byte("\n")) {
			var r struct {
				ID   string `json:"id"`
				Body struct {
					Echo struct{ V int } `json:"echo"`
				} `json:"body"`
			}
			if json.Unmarshal(line, &r) == nil && r.Body.Echo.V == 1 {
				earlier[r.ID] = true
			}
		}
	}
	if len(earlier) != n {
		t.Errorf("after the kill, %d of the %d earlier results are in the results file or in.results.1.jsonl; want all", len(earlier), n)
	}
	if r := binRun(t, bin, dir, args...); r.code != 0 {
		t.Fatalf("run after the kill: exit %d\n%s", r.code, r.stderr)
	}
	if got := binResults(t, results, ids, false); len(got) != n || newLines() != n {
		t.Errorf("after a whole run: %d ids, %d new results; want %d of each", len(got), newLines(), n)
	}
}
