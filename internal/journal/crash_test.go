package journal

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/input"
)

// The crash test runs the test binary again as a child that appends results
// as fast as it can, and kills it.
const (
	crashDirEnv   = "SLUICE_JOURNAL_CRASH_DIR"
	crashItemsEnv = "SLUICE_JOURNAL_CRASH_ITEMS"
	crashQueueEnv = "SLUICE_JOURNAL_CRASH_QUEUE" // "1": one worker flushing groups of lines; "stream": lines in pieces
)

// The child's modes.
const (
	crashEach   = ""       // four workers, each flushing its line
	crashGroups = "1"      // one worker queueing lines and flushing them in groups
	crashStream = "stream" // one worker streaming lines in pieces (WriteSucceeded)
)

func crashOptions(dir string) Options {
	return Options{
		ResultsPath: filepath.Join(dir, "in.results.jsonl"),
		ErrorsPath:  filepath.Join(dir, "in.errors.jsonl"),
	}
}

// crashLine is the results line of item i. One in eight spans three pages,
// a write the kernel copies page by page and a kill can cut. That is still
// rare (a few kills in a hundred), so the parent also tears lines itself.
func crashLine(i int) []byte {
	n := i % 100
	if i%8 == 0 {
		n = 9 << 10
	}
	return fmt.Appendf(nil, `{"id":"item-%d","pad":"%s"}`, i, strings.Repeat("p", n))
}

// crashSmallLine is crashLine without the lines that span pages.
func crashSmallLine(i int) []byte {
	return fmt.Appendf(nil, `{"id":"item-%d","pad":"%s"}`, i, strings.Repeat("p", i%100))
}

// TestJournalHelperProcess is the child of TestJournalSurvivesKill. It runs
// items 0 to N-1 on four workers, skipping those in Done; each worker queues
// its item's line, flushes, and prints "done item-I" after its Flush
// returned: that is "reporting" it. A worker's Flush may write other
// workers' lines, or find its own written by theirs, as the runner's loop
// and its periodic flush do. In group mode one worker queues items
// instead, flushes them in groups of 1 to 64, and reports a group once its
// Flush returned.
func TestJournalHelperProcess(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child of TestJournalSurvivesKill")
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Getenv(crashItemsEnv))
	if err != nil {
		fail(err)
	}
	j, err := Open(crashOptions(dir), input.ValidLineID)
	if err != nil {
		fail(err)
	}
	os.Stdout.WriteString("ready\n")
	switch os.Getenv(crashQueueEnv) {
	case crashGroups:
		crashQueueing(j, n, fail)
	case crashStream:
		crashStreaming(j, n, fail)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				id := "item-" + strconv.Itoa(i)
				if j.Done().Has(id) {
					continue
				}
				if err := j.QueueSucceeded(id, crashLine(i)); err != nil {
					fail(err)
				}
				if _, _, err := j.Flush(); err != nil {
					fail(err)
				}
				os.Stdout.WriteString("done " + id + "\n") // one write, atomic on a pipe
			}
		})
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		fail(err)
	}
	os.Exit(0)
}

// crashQueueing is the child's group mode: the runner's groups of lines.
func crashQueueing(j *Journal, n int, fail func(error)) {
	var group []string
	size := 1
	for i := 0; i < n; i++ {
		id := "item-" + strconv.Itoa(i)
		if j.Done().Has(id) {
			continue
		}
		// Small lines: a group is a multi-page write already, and big
		// lines would grow the file the parent reads after every kill.
		if err := j.QueueSucceeded(id, crashSmallLine(i)); err != nil {
			fail(err)
		}
		group = append(group, id)
		if len(group) < size && i < n-1 {
			continue
		}
		if _, _, err := j.Flush(); err != nil {
			fail(err)
		}
		var report strings.Builder
		for _, id := range group {
			report.WriteString("done " + id + "\n")
		}
		os.Stdout.WriteString(report.String()) // whole lines; a cut last one does not count
		group, size = group[:0], 1+i%64
	}
	if err := j.Close(); err != nil {
		fail(err)
	}
	os.Exit(0)
}

// crashStreaming is the child's stream mode: the runner's spooled
// bodies. Every other line is queued, the others written with
// WriteSucceeded in pieces of 512 bytes, a write(2) a KiB, pausing between
// pieces so that kills land inside lines; a streamed line is reported
// with the queued lines its call flushed.
func crashStreaming(j *Journal, n int, fail func(error)) {
	streamChunk = 1 << 10
	var queued []string
	for i := 0; i < n; i++ {
		id := "item-" + strconv.Itoa(i)
		if j.Done().Has(id) {
			continue
		}
		if i%2 == 1 {
			if err := j.QueueSucceeded(id, crashLine(i)); err != nil {
				fail(err)
			}
			queued = append(queued, id)
			continue
		}
		line := crashLine(i)
		_, _, err := j.WriteSucceeded(id, int64(len(line)), func(w io.Writer) error {
			for p := line; len(p) > 0; p = p[min(512, len(p)):] {
				if _, err := w.Write(p[:min(512, len(p))]); err != nil {
					return err
				}
				time.Sleep(20 * time.Microsecond)
			}
			return nil
		})
		if err != nil {
			fail(err)
		}
		var report strings.Builder
		for _, id := range append(queued, id) {
			report.WriteString("done " + id + "\n")
		}
		os.Stdout.WriteString(report.String())
		queued = queued[:0]
	}
	if err := j.Close(); err != nil {
		fail(err)
	}
	os.Exit(0)
}

// crashChild is one run of the child.
type crashChild struct {
	cmd    *exec.Cmd
	ready  chan struct{} // closed when the child has opened the journal
	stdout chan []string // the ids it reported, when its stdout closes
	stderr bytes.Buffer
}

func startCrashChild(t *testing.T, dir string, items int, mode string) *crashChild {
	t.Helper()
	c := &crashChild{ready: make(chan struct{}), stdout: make(chan []string, 1)}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestJournalHelperProcess$")
	c.cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashItemsEnv+"="+strconv.Itoa(items))
	c.cmd.Env = append(c.cmd.Env, crashQueueEnv+"="+mode)
	c.cmd.Stderr = &c.stderr
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		var ids []string
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if line == "ready" {
				close(c.ready)
			} else if id, ok := strings.CutPrefix(line, "done "); ok {
				ids = append(ids, id)
			}
		}
		// A line cut by the kill has no '\n' and is not counted: its item
		// was never fully reported.
		c.stdout <- ids
	}()
	return c
}

// TestJournalSurvivesKill kills a child appending results at random moments,
// and checks after each kill that every result it reported is in Done
// (nothing lost) and that the results file holds each id once and no torn
// line (nothing duplicated). A last child then finishes the items; the file
// must hold every item exactly once.
func TestJournalSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills 50 child processes")
	}
	t.Run("four workers flushing each line", func(t *testing.T) { testJournalSurvivesKill(t, crashEach) })
	t.Run("queued lines flushed in groups", func(t *testing.T) { testJournalSurvivesKill(t, crashGroups) })
	t.Run("lines streamed in pieces", func(t *testing.T) { testJournalSurvivesKill(t, crashStream) })
}

func testJournalSurvivesKill(t *testing.T, mode string) {
	const kills = 25
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	dir := t.TempDir()
	reported := make(map[string]bool)
	var tornRepaired, maxItem int

	for k := range kills {
		c := startCrashChild(t, dir, 1<<30, mode)
		// Most kills land while the child appends; one in five may land
		// while it opens the journal and repairs the file.
		if k%5 != 0 {
			select {
			case <-c.ready:
			case <-time.After(time.Minute):
				c.cmd.Process.Kill()
				t.Fatalf("kill %d: child not ready after a minute; stderr: %s", k, c.stderr.String())
			}
		}
		time.Sleep(time.Duration(1+rng.IntN(50)) * time.Millisecond)
		if err := c.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		ids := <-c.stdout
		if err := c.cmd.Wait(); err == nil || c.stderr.Len() > 0 {
			t.Fatalf("kill %d: child ended with %v before the kill; stderr: %s", k, err, c.stderr.String())
		}
		for _, id := range ids {
			reported[id] = true
		}

		// Every third time, tear a line as a kill inside a write would: a
		// prefix, without the '\n', of the line of an item no child has
		// reached.
		torn := -1
		if k%3 == 2 {
			torn = 1<<30 + k
			appendTorn(t, crashOptions(dir).ResultsPath, crashLine(torn), rng)
		}
		before, err := os.Stat(crashOptions(dir).ResultsPath)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		j, err := Open(crashOptions(dir), input.ValidLineID)
		if err != nil {
			t.Fatalf("kill %d: reopening: %v", k, err)
		}
		for id := range reported {
			if !j.Done().Has(id) {
				t.Errorf("kill %d: %s was reported done but is not in Done: lost", k, id)
			}
		}
		if torn >= 0 && j.Done().Has("item-"+strconv.Itoa(torn)) {
			t.Errorf("kill %d: item-%d, whose line was torn, is in Done", k, torn)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		lines := checkCrashResults(t, crashOptions(dir).ResultsPath, fmt.Sprintf("kill %d", k))
		if got, want := j.Resumed(), len(lines); got != want {
			t.Errorf("kill %d: Resumed() = %d; want %d, one per line", k, got, want)
		}
		if after, _ := os.Stat(crashOptions(dir).ResultsPath); before != nil && after.Size() < before.Size() {
			tornRepaired++
		}
		for _, i := range lines {
			maxItem = max(maxItem, i)
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("%d kills, %d torn lines repaired (%d torn by the test), %d results reported, items up to %d", kills, tornRepaired, kills/3, len(reported), maxItem)

	// The last child finishes the job: it must skip what is done and redo
	// what the kills cut, and nothing more.
	items := maxItem + 100
	c := startCrashChild(t, dir, items, mode)
	ids := <-c.stdout
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("last child: %v; stderr: %s", err, c.stderr.String())
	}
	for _, id := range ids {
		if reported[id] {
			t.Errorf("last child redid %s, which was reported done before", id)
		}
	}
	lines := checkCrashResults(t, crashOptions(dir).ResultsPath, "after the last child")
	if got, want := len(lines), items; got != want {
		t.Errorf("after the last child: %d results; want %d, one per item", got, want)
	}
}

// appendTorn appends to path a random prefix of line, from one byte to the
// whole line without its '\n'.
func appendTorn(t *testing.T, path string, line []byte, rng *rand.Rand) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(line[:1+rng.IntN(len(line))]); err != nil {
		t.Fatal(err)
	}
}

// checkCrashResults reads the results file and fails the test on a torn or
// altered line or an id seen twice. It returns the items in file order.
func checkCrashResults(t *testing.T, path, when string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("%s: the results file does not end with a newline", when)
	}
	seen := make(map[int]int)
	var items []int
	for n, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(data) == 0 {
			break
		}
		// Compare with the line the child wrote; no JSON parsing needed.
		digits, _, _ := bytes.Cut(bytes.TrimPrefix(line, []byte(`{"id":"item-`)), []byte(`"`))
		i, err := strconv.Atoi(string(digits))
		if err != nil || !bytes.Equal(line, crashLine(i)) && !bytes.Equal(line, crashSmallLine(i)) {
			t.Errorf("%s: line %d = %.60q…: not a whole result line", when, n+1, line)
			continue
		}
		if first, dup := seen[i]; dup {
			t.Errorf("%s: line %d: item-%d again, first on line %d: duplicated", when, n+1, i, first)
		}
		seen[i] = n + 1
		items = append(items, i)
	}
	return items
}
