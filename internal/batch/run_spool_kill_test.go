package batch_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/batch"
)

// spoolRunDirEnv names the directory of TestRunSpoolHelperProcess's run.
const spoolRunDirEnv = "SLUICE_SPOOL_RUN_DIR"

// spoolRun is the run both the child and the test make: 24 openai items
// answered with bodies of 3 MiB (less under the race detector), half JSON and half not, read at a pace so
// that a run takes a while, through 4 workers.
func spoolRun(dir string, ctx context.Context) (batch.Summary, error) {
	input := filepath.Join(dir, "in.jsonl")
	if _, err := os.Stat(input); err != nil {
		var in strings.Builder
		for i := range spoolRunItems {
			fmt.Fprintf(&in, `{"custom_id":"r%d","method":"POST","url":"/v1/chat/completions/%d","body":{"n":%d}}`+"\n", i, i, i)
		}
		if err := os.WriteFile(input, []byte(in.String()), 0o644); err != nil {
			return batch.Summary{}, err
		}
	}
	cfg := batch.Config{Input: input, Out: filepath.Join(dir, "out.jsonl"), BaseURL: "http://api.example", Progress: "none", Base: spoolRunAPI,
		Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }, DrainTimeout: 20 * time.Millisecond}
	cfg.Limits.Concurrency = 4
	return batch.Run(ctx, cfg)
}

const spoolRunItems = 24

var spoolRunAPI = bigAPI{size: 3 << 20 / bigScale, pace: 200 * time.Microsecond}

// TestRunSpoolHelperProcess is the child of TestRunSpoolSurvivesKill.
func TestRunSpoolHelperProcess(t *testing.T) {
	dir := os.Getenv(spoolRunDirEnv)
	if dir == "" {
		t.Skip("the child of TestRunSpoolSurvivesKill")
	}
	sum, err := spoolRun(dir, context.Background())
	if err != nil || sum.Failed > 0 || sum.Stopped != nil {
		fmt.Fprintln(os.Stderr, err, sum.Failed, sum.Stopped, sum.Reasons)
		os.Exit(2)
	}
	os.Exit(0)
}

// TestRunSpoolSurvivesKill kills runs whose bodies are spooled and whose
// lines are written in pieces, at random moments, and checks after each
// kill that no spool file is left and that every whole line is the
// in-memory line of its item; a last run finishes, and the results hold
// every item once.
func TestRunSpoolSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes writing large results")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	torn := 0
	for k := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRunSpoolHelperProcess$")
		cmd.Env = append(os.Environ(), spoolRunDirEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill once the results grew by 1 to 4 MiB: inside a line, most
		// times, as it is written a MiB at a time.
		var size int64
		if fi, err := os.Stat(out); err == nil {
			size = fi.Size()
		}
		until := size + (1<<20+rng.Int64N(3<<20))/bigScale
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
	wait:
		for {
			select {
			case <-exited:
				break wait
			case <-time.After(time.Millisecond):
			}
			if fi, err := os.Stat(out); err == nil && fi.Size() >= until {
				break
			}
		}
		cmd.Process.Kill()
		<-exited
		if stderr.Len() > 0 {
			t.Fatalf("kill %d: stderr: %s", k, stderr.String())
		}
		checkNoSpool(t, dir)
		data, _ := os.ReadFile(out)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			torn++
		}
		var whole [][]byte
		if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
			whole = bytes.Split(data[:i], []byte("\n"))
		}
		t.Logf("kill %d: %d whole lines, torn tail %v", k, len(whole), len(data) > 0 && data[len(data)-1] != '\n')
		checkBigLines(t, whole, spoolRunAPI)
		if t.Failed() {
			return
		}
	}
	sum, err := spoolRun(dir, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d torn tails; the last run resumed %d and did %d", torn, sum.Resumed, sum.Succeeded)
	if sum.Resumed+sum.Succeeded != spoolRunItems || sum.Failed != 0 {
		t.Errorf("last run: %d resumed, %d succeeded, %d failed; want %d in all, none failed", sum.Resumed, sum.Succeeded, sum.Failed, spoolRunItems)
	}
	checkBigResults(t, out, spoolRunAPI, spoolRunItems)
	checkNoSpool(t, dir)
}

// TestRunSpoolInterrupted cancels runs whose bodies are spooled, cutting
// calls in flight mid-body (DrainTimeout), and checks that what the
// summary counts is in the results file, whole, that no spool file is
// left, and that a rerun finishes with every item once.
func TestRunSpoolInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("writes large results")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for ctx.Err() == nil {
			if b, _ := os.ReadFile(out); bytes.Count(b, []byte("\n")) >= 3 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	sum, err := spoolRun(dir, ctx)
	cancel()
	t.Logf("interrupted: %d succeeded, %d not started", sum.Succeeded, sum.NotStarted)
	if err != nil || sum.Stopped == nil || sum.Failed != 0 {
		t.Fatalf("interrupted run: %v, stopped %v, %d failed; want interrupted, none failed", err, sum.Stopped, sum.Failed)
	}
	checkNoSpool(t, dir)
	data, _ := os.ReadFile(out)
	if n := bytes.Count(data, []byte("\n")); n != sum.Succeeded || len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("results file: %d lines, ending whole %v; the summary says %d", n, len(data) == 0 || data[len(data)-1] == '\n', sum.Succeeded)
	}
	first := sum.Succeeded
	if sum, err = spoolRun(dir, context.Background()); err != nil || sum.Resumed != first || sum.Succeeded != spoolRunItems-first {
		t.Errorf("rerun: %d resumed, %d succeeded, %v; want %d, %d", sum.Resumed, sum.Succeeded, err, first, spoolRunItems-first)
	}
	checkBigResults(t, out, spoolRunAPI, spoolRunItems)
	checkNoSpool(t, dir)
}
