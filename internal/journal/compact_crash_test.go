package journal

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/input"
)

const compactDirEnv = "SLUICE_JOURNAL_COMPACT_DIR"

// TestJournalCompactHelperProcess is the child of TestCompactSurvivesKill:
// it opens the journal and compacts it.
func TestJournalCompactHelperProcess(t *testing.T) {
	dir := os.Getenv(compactDirEnv)
	if dir == "" {
		t.Skip("the child of TestCompactSurvivesKill")
	}
	j, err := Open(crashOptions(dir), input.ValidLineID)
	if err == nil {
		_, _, err = j.Compact()
	}
	if err == nil {
		err = j.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(0)
}

// TestCompactSurvivesKill kills a child compacting a results file whose
// ids are all there twice (an old result, then a new one) at random
// moments: after each kill, every id's last line is still its new result,
// and a Compact that finishes leaves exactly the new results, with every
// old one kept in a numbered file beside them.
func TestCompactSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	const n = 20_000
	dir := t.TempDir()
	opts := crashOptions(dir)
	var b bytes.Buffer
	for v := 1; v <= 2; v++ {
		for i := range n {
			fmt.Fprintf(&b, `{"id":"item-%d","v":%d,"pad":"%0100d"}`+"\n", i, v, 0)
		}
	}
	if err := os.WriteFile(opts.ResultsPath, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for round := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestJournalCompactHelperProcess$")
		cmd.Env = append(os.Environ(), compactDirEnv+"="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.IntN(40_000)) * time.Microsecond) // a random moment, not a timing assertion
		cmd.Process.Kill()
		cmd.Wait()
		checkLastLines(t, opts.ResultsPath, n, fmt.Sprintf("after kill %d", round))
	}
	j, err := Open(opts, input.ValidLineID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got := checkLastLines(t, opts.ResultsPath, n, "after a whole Compact"); got != n {
		t.Errorf("after a whole Compact the results file has %d lines; want %d", got, n)
	}
	old := map[string]bool{}
	for k := 1; ; k++ {
		data, err := os.ReadFile(numbered(opts.ResultsPath, k))
		if err != nil {
			break
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
			if bytes.Contains(line, []byte(`"v":1`)) {
				id, _ := input.LineID(line)
				old[id] = true
			}
		}
	}
	if len(old) != n {
		t.Errorf("the numbered files keep %d of the %d old results; want all", len(old), n)
	}
	if leftovers, _ := filepath.Glob(opts.ResultsPath + ".compact-*"); len(leftovers) > 0 {
		t.Errorf("temporary files left after a whole Compact: %v", leftovers)
	}
}

// checkLastLines checks that the last line of each of the n ids in path is
// its new result (v 2), and returns how many lines the file has.
func checkLastLines(t *testing.T, path string, n int, when string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]bool{}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	for _, line := range lines {
		id, ok := input.LineID(line)
		if !ok {
			t.Fatalf("%s: a line that is not a result: %q", when, line)
		}
		last[id] = bytes.Contains(line, []byte(`"v":2`))
	}
	for i := range n {
		if id := "item-" + strconv.Itoa(i); !last[id] {
			t.Fatalf("%s: %s's last line is missing or not its new result", when, id)
		}
	}
	return len(lines)
}
