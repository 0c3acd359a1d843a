package batch_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/batch"
)

// refusingBase is a base transport for a host where nothing listens.
type refusingBase struct{ dials *atomic.Int32 }

func (b refusingBase) RoundTrip(req *http.Request) (*http.Response, error) {
	b.dials.Add(1)
	addr, _ := net.ResolveTCPAddr("tcp", req.URL.Host)
	return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

// `sluice run` against a host that refuses every connection spent the
// retry policy's 8 retries and some 35 s of backoff on each item before
// writing it off. Now an item gets one quick retry, and its line in the
// errors file names the address that refused.
func TestRunGivesUpQuicklyOnARefusedHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		in := filepath.Join(dir, "urls.txt")
		// Fewer items than the run judges to stop early: each is sent.
		if err := os.WriteFile(in, []byte("http://127.0.0.1:1/a\nhttp://127.0.0.1:1/b\nhttp://127.0.0.1:1/c\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var dials atomic.Int32
		var stdout, stderr bytes.Buffer
		begin := time.Now()
		sum, err := batch.Run(context.Background(), batch.Config{
			Input: in, Progress: "none", Stdout: &stdout, Stderr: &stderr,
			Getenv: func(string) string { return "" }, Base: refusingBase{&dials},
		})
		if took := time.Since(begin); took > time.Second {
			t.Errorf("the run took %v, want under a second: one quick retry per item, not 35 s of backoff", took)
		}
		if code := batch.ExitCode(sum, err); code != 1 {
			t.Errorf("exit code %d (err %v), want 1: the items failed", code, err)
		}
		if n := dials.Load(); n != 6 {
			t.Errorf("%d dials, want 6: two per item", n)
		}
		errs, rerr := os.ReadFile(filepath.Join(dir, "urls.errors.jsonl"))
		if rerr != nil {
			t.Fatal(rerr)
		}
		if lines := strings.Count(string(errs), "\n"); lines != 3 || strings.Count(string(errs), "127.0.0.1:1 unreachable") != 3 {
			t.Errorf("errors file:\n%s\nwant 3 lines each naming 127.0.0.1:1 as unreachable", errs)
		}
	})
}

// A run whose first calls all meet a host that refuses them stops early
// (exit 3) rather than writing off every item in turn: the refusal is the
// retry policy's verdict on the host, fatal, and alike for every item.
func TestRunStopsEarlyWhenTheHostNeverAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		in := filepath.Join(dir, "urls.txt")
		var urls strings.Builder
		for i := range 50 {
			fmt.Fprintf(&urls, "http://127.0.0.1:1/%d\n", i)
		}
		if err := os.WriteFile(in, []byte(urls.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		var dials atomic.Int32
		var stdout, stderr bytes.Buffer
		sum, err := batch.Run(context.Background(), batch.Config{
			Input: in, Progress: "none", Stdout: &stdout, Stderr: &stderr, Limits: limitsC(1),
			Getenv: func(string) string { return "" }, Base: refusingBase{&dials},
		})
		if code := batch.ExitCode(sum, err); code != 3 || sum.Stopped == nil || !strings.Contains(sum.Stopped.Error(), "127.0.0.1:1 unreachable") {
			t.Errorf("exit %d (err %v), stopped: %v; want exit 3, naming 127.0.0.1:1 as unreachable", code, err, sum.Stopped)
		}
		if n := dials.Load(); n >= 50 {
			t.Errorf("%d dials: the run went on after its first calls all failed alike", n)
		}
	})
}

// dyingBase answers its first calls with 200 and then refuses every
// connection, as a host that dies mid-run.
type dyingBase struct {
	answer int32
	calls  *atomic.Int32
}

func (b dyingBase) RoundTrip(req *http.Request) (*http.Response, error) {
	if b.calls.Add(1) <= b.answer {
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
	}
	return refusingBase{new(atomic.Int32)}.RoundTrip(req)
}

// A host that died mid-run had every remaining item written off in turn,
// each after its quick retries and its place in the rate (414 items of a
// 50/s run: 21 s and 879 attempts). Now a few calls in a row that cannot
// connect stop the run (exit 3), naming the address, and the items not
// sent are left for the next run.
func TestRunStopsWhenTheHostDiesMidRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		in := filepath.Join(dir, "urls.txt")
		var urls strings.Builder
		for i := range 200 {
			fmt.Fprintf(&urls, "http://127.0.0.1:1/%d\n", i)
		}
		if err := os.WriteFile(in, []byte(urls.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		var calls atomic.Int32
		var stdout, stderr bytes.Buffer
		sum, err := batch.Run(context.Background(), batch.Config{
			Input: in, Progress: "none", Stdout: &stdout, Stderr: &stderr, Limits: limitsC(1),
			Getenv: func(string) string { return "" }, Base: dyingBase{answer: 20, calls: &calls},
		})
		if code := batch.ExitCode(sum, err); code != 3 || sum.Stopped == nil || !strings.Contains(sum.Stopped.Error(), "127.0.0.1:1 stopped answering") {
			t.Errorf("exit %d (err %v), stopped: %v; want exit 3 naming 127.0.0.1:1 as stopped answering", code, err, sum.Stopped)
		}
		if n := calls.Load(); n > 40 {
			t.Errorf("%d calls: the run went on long after the host died", n)
		}
		if sum.Succeeded != 20 {
			t.Errorf("%d succeeded, want the 20 the host answered", sum.Succeeded)
		}
	})
}
