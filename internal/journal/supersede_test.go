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

// versionOptions are crashOptions whose lines carry a request fingerprint:
// the line's "v", the version of the request it answered.
func versionOptions(dir string) Options {
	o := crashOptions(dir)
	o.Fingerprint = lineVersion
	return o
}

func lineVersion(line []byte) uint64 {
	i := bytes.Index(line, []byte(`"v":`))
	if i < 0 {
		return 0
	}
	v, _ := strconv.Atoi(string(line[i+4 : i+5]))
	return uint64(v)
}

func versionLine(id string, v int) []byte {
	return fmt.Appendf(nil, `{"id":%q,"v":%d,"pad":"%0100d"}`, id, v, 0)
}

func itemID(i int) string { return "item-" + strconv.Itoa(i) }

// writeVersion writes a results file of n ids answered at version v.
func writeVersion(t *testing.T, path string, n, v int) {
	t.Helper()
	var b bytes.Buffer
	for i := range n {
		b.Write(versionLine(itemID(i), v))
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// resumeChanged does what the runner does on a resume whose requests are
// at version v for the ids want says: it reviews every item, supersedes,
// then writes the new result of every id not done, flushing every flush
// lines.
func resumeChanged(j *Journal, n int, want func(i int) int, flush int) error {
	for i := range n {
		if j.Done().Succeeded(itemID(i)) {
			j.Done().Review(itemID(i), uint64(want(i)))
		}
	}
	if _, _, err := j.Supersede(); err != nil {
		return err
	}
	queued := 0
	for i := range n {
		if j.Done().Succeeded(itemID(i)) {
			continue
		}
		if err := j.QueueSucceeded(itemID(i), versionLine(itemID(i), want(i))); err != nil {
			return err
		}
		if queued++; queued%flush == 0 {
			if _, _, err := j.Flush(); err != nil {
				return err
			}
		}
	}
	_, _, err := j.Flush()
	return err
}

// TestSupersedeLeavesNoIdTwice is the reviewer's kill -9 during a resume
// whose input changed, at its worst moment: some new results written,
// the run not ended (no Compact, no Close: what a kill leaves). The
// results file must hold every id once at most, and every earlier result
// must be in it or in the numbered file beside it. Before Supersede, the
// new lines were appended beside the old ones until Compact.
func TestSupersedeLeavesNoIdTwice(t *testing.T) {
	const n = 100
	dir := t.TempDir()
	opts := versionOptions(dir)
	writeVersion(t, opts.ResultsPath, n, 1)
	j, err := Open(opts, input.ValidLineID)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	changed := func(i int) int { return 1 + i%2 } // odd ids' requests changed
	for i := range n {
		j.Done().Review(itemID(i), uint64(changed(i)))
	}
	moved, aside, err := j.Supersede()
	if err != nil {
		t.Fatal(err)
	}
	if want := numbered(opts.ResultsPath, 1); moved != n/2 || aside != want {
		t.Errorf("Supersede moved %d lines to %q; want %d to %q", moved, aside, n/2, want)
	}
	for i := 1; i < 41; i += 2 { // 20 of the 50 changed ids run again, then the kill
		if err := j.QueueSucceeded(itemID(i), versionLine(itemID(i), 2)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	res := checkOncePerID(t, opts.ResultsPath, "after the new results of 20 ids")
	if len(res) != n/2+20 {
		t.Errorf("the results file holds %d ids; want %d", len(res), n/2+20)
	}
	checkNothingLost(t, opts.ResultsPath, n, "after the new results of 20 ids")
	for i := 1; i < 41; i += 2 {
		if res[itemID(i)] != 2 {
			t.Errorf("%s: result of version %d in the results file; want 2", itemID(i), res[itemID(i)])
		}
	}
}

// TestSupersedeRewritesOnlyWhatChanged: a resume whose requests are all
// the same leaves the results file as it is (the same file, not a copy),
// and so does the resume after a resume that was killed.
func TestSupersedeRewritesOnlyWhatChanged(t *testing.T) {
	const n = 50
	dir := t.TempDir()
	opts := versionOptions(dir)
	writeVersion(t, opts.ResultsPath, n, 1)
	before, err := os.Stat(opts.ResultsPath)
	if err != nil {
		t.Fatal(err)
	}
	j, err := Open(opts, input.ValidLineID)
	if err != nil {
		t.Fatal(err)
	}
	if err := resumeChanged(j, n, func(int) int { return 1 }, 8); err != nil {
		t.Fatal(err)
	}
	if moved, _, err := j.Compact(); err != nil || moved != 0 {
		t.Errorf("Compact after an unchanged resume: moved %d, %v; want 0, nil", moved, err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(opts.ResultsPath)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || after.Size() != before.Size() {
		t.Errorf("a resume where nothing changed rewrote the results file")
	}
	if _, err := os.Stat(numbered(opts.ResultsPath, 1)); err == nil {
		t.Errorf("a resume where nothing changed moved results aside")
	}
}

// TestIndexReviewCountsFirstItem: only an id's first item in the input
// decides, as in the run, where a later one is a repeated id.
func TestIndexReviewCountsFirstItem(t *testing.T) {
	var x Index
	x.markDoneFP(idHash("same"), FoldFingerprint(1))
	x.markDoneFP(idHash("changed"), FoldFingerprint(1))
	x.markDoneFP(idHash("unrecorded"), 0)
	for _, c := range []struct {
		id   string
		fp   uint64
		want bool
	}{
		{"same", 1, false},
		{"same", 2, false}, // a repeat: the first item was the same
		{"changed", 2, true},
		{"changed", 1, false}, // a repeat
		{"unrecorded", 2, false},
		{"new", 2, false},
	} {
		if got := x.Review(c.id, c.fp); got != c.want {
			t.Errorf("Review(%q, %d) = %v; want %v", c.id, c.fp, got, c.want)
		}
	}
	if !x.Succeeded("same") || x.Succeeded("changed") || !x.Succeeded("unrecorded") {
		t.Errorf("after the review: same %v, changed %v, unrecorded %v done; want true, false, true",
			x.Succeeded("same"), x.Succeeded("changed"), x.Succeeded("unrecorded"))
	}
}

const supersedeDirEnv = "SLUICE_JOURNAL_SUPERSEDE_DIR"

// TestJournalSupersedeHelperProcess is the child of
// TestSupersedeSurvivesKill: a resume whose every request changed.
func TestJournalSupersedeHelperProcess(t *testing.T) {
	dir := os.Getenv(supersedeDirEnv)
	if dir == "" {
		t.Skip("the child of TestSupersedeSurvivesKill")
	}
	j, err := Open(versionOptions(dir), input.ValidLineID)
	if err == nil {
		n, _ := strconv.Atoi(os.Getenv(supersedeDirEnv + "_N"))
		err = resumeChanged(j, n, func(int) int { return 2 }, 64)
	}
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

// TestSupersedeSurvivesKill kills a child resuming a results file whose
// every request changed, at random moments: while it supersedes, while it
// appends the new results, while it compacts. After each kill no id is in
// the results file twice and every id's earlier result is in it or in a
// numbered file beside it; a run that finishes leaves the new results,
// once each.
func TestSupersedeSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	const n = 20_000
	dir := t.TempDir()
	opts := versionOptions(dir)
	writeVersion(t, opts.ResultsPath, n, 1)
	for round := range 10 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestJournalSupersedeHelperProcess$")
		cmd.Env = append(os.Environ(), supersedeDirEnv+"="+dir, supersedeDirEnv+"_N="+strconv.Itoa(n))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.IntN(80_000)) * time.Microsecond) // a random moment, not a timing assertion
		cmd.Process.Kill()
		cmd.Wait()
		when := fmt.Sprintf("after kill %d", round)
		checkOncePerID(t, opts.ResultsPath, when)
		checkNothingLost(t, opts.ResultsPath, n, when)
	}
	j, err := Open(opts, input.ValidLineID)
	if err != nil {
		t.Fatal(err)
	}
	if err := resumeChanged(j, n, func(int) int { return 2 }, 64); err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	res := checkOncePerID(t, opts.ResultsPath, "after a whole run")
	for i := range n {
		if res[itemID(i)] != 2 {
			t.Fatalf("after a whole run %s has version %d; want 2", itemID(i), res[itemID(i)])
		}
	}
	checkNothingLost(t, opts.ResultsPath, n, "after a whole run")
	if leftovers, _ := filepath.Glob(opts.ResultsPath + ".compact-*"); len(leftovers) > 0 {
		t.Errorf("temporary files left after a whole run: %v", leftovers)
	}
}

// checkOncePerID fails when the results file at path holds an id twice,
// and returns each id's version. A torn last line (a kill during a write,
// cut by the next Open) is left out.
func checkOncePerID(t *testing.T, path, when string) map[string]int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		data = data[:i+1]
	}
	got := map[string]int{}
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		id, ok := input.LineID(line)
		if !ok {
			t.Fatalf("%s: a line that is not a result: %q", when, line)
		}
		if _, twice := got[id]; twice {
			t.Fatalf("%s: %s is in the results file twice", when, id)
		}
		got[id] = int(lineVersion(line))
	}
	return got
}

// checkNothingLost fails when an id's earlier result (version 1) is
// neither in the results file at path nor in a numbered file beside it,
// where Supersede and Compact move results.
func checkNothingLost(t *testing.T, path string, n int, when string) {
	t.Helper()
	old := map[string]bool{}
	for k := 0; ; k++ {
		name := path
		if k > 0 {
			name = numbered(path, k)
		}
		data, err := os.ReadFile(name)
		if err != nil {
			break
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			if lineVersion(line) == 1 && bytes.HasSuffix(line, []byte("}")) {
				id, _ := input.LineID(line)
				old[id] = true
			}
		}
	}
	for i := range n {
		if !old[itemID(i)] {
			t.Fatalf("%s: the earlier result of %s is lost", when, itemID(i))
		}
	}
}
