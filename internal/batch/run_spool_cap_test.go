package batch_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/batch"
)

// controlAPI answers /0 with a body of control characters whose results
// line would be just over the journal's 64 MiB (each is six bytes once
// escaped), /1 with one whose escaped body alone is over it, and anything
// else with a small JSON body.
type controlAPI struct{}

func (controlAPI) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	switch req.URL.Path {
	case "/0":
		body = bytes.Repeat([]byte{1}, (64<<20-2)/6) // the string fits, its line does not
	case "/1":
		body = bytes.Repeat([]byte{1}, 12<<20)
	default:
		body = []byte(`{"ok":true}`)
	}
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
}

// TestRunLineOverTheCapFailsItsItem protects the run from a response
// whose results line would be over the journal's 64 MiB once written as
// JSON: its item fails with a clear error, as a response over 64 MiB
// does, and the run goes on (it stopped, writing nothing more, before).
func TestRunLineOverTheCapFailsItsItem(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 64 MiB lines")
	}
	dir := t.TempDir()
	input := filepath.Join(dir, "in.jsonl")
	lines := `{"id":"a","url":"http://api.example/0"}` + "\n" + `{"id":"b","url":"http://api.example/1"}` + "\n" + `{"id":"c","url":"http://api.example/2"}` + "\n"
	if err := os.WriteFile(input, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := batch.Config{Input: input, Out: filepath.Join(dir, "out.jsonl"), Progress: "none", Base: controlAPI{}, Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
	cfg.Limits.Concurrency = 1
	sum, err := batch.Run(context.Background(), cfg)
	if err != nil || sum.Succeeded != 1 || sum.Failed != 2 || sum.Stopped != nil {
		t.Fatalf("Run: %d succeeded, %d failed, stopped %v, %v; want 1, 2, not stopped, no error", sum.Succeeded, sum.Failed, sum.Stopped, err)
	}
	errs, err := os.ReadFile(sum.Errors)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(errs), "once written as JSON in its results line"); n != 2 {
		t.Errorf("errors file names the cap %d times; want 2:\n%s", n, errs)
	}
	checkNoSpool(t, dir)
}
