package batch_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"

	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/table/tabletest"
)

// bigBody is a response body of size bytes made as it is read, so that
// the API side of a test holds none of it: a JSON object whose one string
// holds the bulk (json), or text with quotes, control characters, U+2028
// and invalid UTF-8 that is no JSON at all (text).
type bigBody struct {
	size, off int64
	json      bool
	seed      byte
	pace      time.Duration // a pause before each read of up to 64 KiB
}

func (b *bigBody) Read(p []byte) (int, error) {
	if b.off >= b.size {
		return 0, io.EOF
	}
	if b.pace > 0 {
		time.Sleep(b.pace)
		p = p[:min(len(p), 64<<10)]
	}
	n := int(min(int64(len(p)), b.size-b.off))
	b.fill(p[:n], b.off)
	b.off += int64(n)
	return n, nil
}

const (
	bigBodyText = "plain \"text\"\t<&>\x01\n\u2028 é \xff\xfe\xe2\x80 done. "
	bigBodyHead = `{"seed":"`
	bigBodyFill = "abcdefghij \\\"é" // a string's inside: an escape and a character a cut can split
	bigBodyTail = `", "usage": {"prompt_tokens": 7}}`
)

// Runs of the repeated parts, to copy from rather than make byte by byte
// (under the race detector, that took minutes).
var bigBodyTexts, bigBodyFills = strings.Repeat(bigBodyText, 2000), strings.Repeat(bigBodyFill, 5000)

// fill fills p with the body from offset off.
func (b *bigBody) fill(p []byte, off int64) {
	for len(p) > 0 {
		var n int
		switch {
		case !b.json:
			n = copy(p, bigBodyTexts[(off+int64(b.seed))%int64(len(bigBodyText)):])
		case off < int64(len(bigBodyHead)):
			n = copy(p, bigBodyHead[off:])
		case off >= b.size-int64(len(bigBodyTail)):
			n = copy(p, bigBodyTail[off-(b.size-int64(len(bigBodyTail))):])
		default:
			n = copy(p[:min(int64(len(p)), b.size-int64(len(bigBodyTail))-off)], bigBodyFills[(off+int64(b.seed))%int64(len(bigBodyFill)):])
		}
		p, off = p[n:], off+int64(n)
	}
}

// whole is the body as one slice, for the expected results line.
func (b *bigBody) whole() []byte {
	out := make([]byte, b.size)
	b.fill(out, 0)
	return out
}

// bigAPI answers every request with a bigBody: JSON for paths ending in
// an even number, text for odd ones.
type bigAPI struct {
	size          int64
	contentLength bool
	pace          time.Duration // see bigBody
}

func (a bigAPI) body(path string) *bigBody {
	n, _ := strconv.Atoi(path[strings.LastIndexByte(path, '/')+1:])
	return &bigBody{size: a.size + int64(n), json: n%2 == 0, seed: byte(n), pace: a.pace}
}

func (a bigAPI) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	b := a.body(req.URL.Path)
	cl := int64(-1)
	if a.contentLength {
		cl = b.size
	}
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(b), ContentLength: cl, Request: req}, nil
}

// TestRunMemoryIndependentOfResponseSize protects DESIGN.md's "memory
// independent of response sizes": 16 responses of 12 MiB through 8
// workers, half JSON and half not, must not raise the heap by anything
// near a body a worker (96 MiB), with and without a Content-Length; and
// the results must be the lines the shapes build from the whole bodies.
func TestRunMemoryIndependentOfResponseSize(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about 400 MiB")
	}
	if bigScale > 1 {
		t.Skip("under the race detector: its instrumentation would take minutes over these bodies, and memory is measured without it")
	}
	const items, workers, size = 16, 8, 12 << 20
	// Collections more often than by default, so that what is measured
	// is what the run holds rather than how late a loaded machine
	// collects its garbage.
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	for _, cl := range []bool{true, false} {
		t.Run(fmt.Sprintf("content-length %v", cl), func(t *testing.T) {
			dir := t.TempDir()
			input := postLines(t, dir, items, `{"custom_id":"r%d","method":"POST","url":"/v1/chat/completions/%d","body":{"n":%d}}`)
			out := filepath.Join(dir, "out.jsonl")
			api := bigAPI{size: size, contentLength: cl}
			cfg := batch.Config{Input: input, Out: out, BaseURL: "http://api.example", Progress: "none", Base: api,
				Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
			cfg.Limits.Concurrency = workers
			stop := apitest.HeapPeak()
			sum, err := batch.Run(context.Background(), cfg)
			peak := stop()
			if err != nil || sum.Succeeded != items {
				t.Fatalf("Run: %d succeeded, %v", sum.Succeeded, err)
			}
			t.Logf("peak heap growth %.1f MiB for %d bodies of %d MiB through %d workers", float64(peak)/(1<<20), items, size>>20, workers)
			// A third of a body a worker: the spool's buffers, and the
			// garbage of a loaded machine's late collections, are far
			// below it, and the bodies held whole (453 and 525 MiB
			// before spooling) far above.
			if limit := uint64(workers * size / 3); peak > limit {
				t.Errorf("peak heap growth %d MiB; want under %d MiB, a third of a body a worker", peak>>20, limit>>20)
			}
			checkBigResults(t, out, api, items)
			checkNoSpool(t, dir)
		})
	}
}

// checkBigResults compares each results line with the one the openai
// shape builds from the whole body, today's in-memory path, and checks
// that the file holds every item once.
func checkBigResults(t *testing.T, out string, api bigAPI, items int) {
	t.Helper()
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(lines) != items {
		t.Errorf("%d results lines; want %d", len(lines), items)
	}
	if seen := checkBigLines(t, lines, api); len(seen) != items {
		t.Errorf("%d distinct items in the results; want %d", len(seen), items)
	}
}

// checkBigLines checks that each line is the in-memory line of its item
// and that no item has two, and returns the items seen.
func checkBigLines(t *testing.T, lines [][]byte, api bigAPI) map[int]bool {
	t.Helper()
	seen := map[int]bool{}
	for _, line := range lines {
		var i int
		at := bytes.Index(line, []byte(`"custom_id":"r`))
		if at < 0 {
			t.Errorf("no custom_id in %.80q", line)
			continue
		}
		if _, err := fmt.Sscanf(string(line[at+14:min(len(line), at+30)]), "%d", &i); err != nil {
			t.Errorf("no custom_id in %.80q", line)
			continue
		}
		if seen[i] {
			t.Errorf("item %d twice in the results", i)
		}
		seen[i] = true
		want := openAILine(i, api.body("/"+strconv.Itoa(i)).whole(), input.LineFingerprint(line))
		if !bytes.Equal(line, want) {
			at := 0
			for at < min(len(line), len(want)) && line[at] == want[at] {
				at++
			}
			t.Errorf("item %d: results line differs from the in-memory one at byte %d of %d/%d: got %.60q, want %.60q", i, at, len(line), len(want), line[at:], want[at:])
		}
	}
	return seen
}

// checkNoSpool fails when dir holds anything but the run's files.
func checkNoSpool(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if n := e.Name(); n != "in.jsonl" && n != "out.jsonl" && !strings.HasSuffix(n, ".errors.jsonl") {
			t.Errorf("%s left in the results directory", n)
		}
	}
}

// openAILine is the results line the openai shape builds in memory for
// item i answered 200 with body, with the fingerprint the run wrote.
func openAILine(i int, body []byte, fp uint64) []byte {
	it := input.Item{ID: "r" + strconv.Itoa(i)}
	return input.ShapeOf(input.FormatOpenAI).AppendResultLine(nil, it, input.Response{Status: 200, Body: body, Attempts: 1, Fingerprint: fp})
}

// TestRunLargeBodiesToEveryDestination runs bodies over the spool's
// threshold (8 MiB, JSON and not) into standard output, which takes its
// lines in pieces like the results file, and into the databases, which
// hold a body whole: every destination gets them all, standard output
// byte for byte as the in-memory lines, and no spool file is left.
func TestRunLargeBodiesToEveryDestination(t *testing.T) {
	if testing.Short() {
		t.Skip("writes large results")
	}
	const items = 4
	api := bigAPI{size: 8 << 20 / bigScale}
	for _, tc := range []struct {
		name string
		dest func(t *testing.T, dir string) string
	}{
		{"stdout", func(*testing.T, string) string { return "-" }},
		{"sqlite", func(t *testing.T, dir string) string { return "sqlite:" + filepath.Join(dir, "answers.db") }},
		{"postgres", func(t *testing.T, _ string) string { return tabletest.Postgres(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			input := postLines(t, dir, items, `{"custom_id":"r%d","method":"POST","url":"/v1/chat/completions/%d","body":{"n":%d}}`)
			stdout, err := os.Create(filepath.Join(dir, "stdout.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer stdout.Close()
			dest := tc.dest(t, dir)
			cfg := batch.Config{Input: input, Out: dest, BaseURL: "http://api.example", Progress: "none", Base: api,
				Stdout: stdout, Stderr: io.Discard, Getenv: func(string) string { return "" }}
			cfg.Limits.Concurrency = 2
			if dest != "-" {
				cfg.Table = "answers"
			}
			sum, err := batch.Run(context.Background(), cfg)
			if err != nil || sum.Succeeded != items {
				t.Fatalf("Run: %d succeeded, %v", sum.Succeeded, err)
			}
			if dest == "-" {
				checkBigResults(t, stdout.Name(), api, items)
			} else {
				// The text bodies hold bytes that are not UTF-8: they are
				// in response_bytes, whole.
				got := tableQuery(t, dest, fmt.Sprintf("SELECT id, response->'usage'->>'prompt_tokens', length(response_bytes) > %d FROM answers ORDER BY id", 6000000/bigScale))
				want := "[[r0 7 ] [r1  t] [r2 7 ] [r3  t]]"
				if tc.name == "sqlite" {
					want = "[[r0 7 ] [r1  1] [r2 7 ] [r3  1]]"
				}
				if fmt.Sprint(got) != want {
					t.Errorf("rows: %q; want %s", got, want)
				}
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), ".sluice-spool") {
					t.Errorf("%s left behind", e.Name())
				}
			}
		})
	}
}
