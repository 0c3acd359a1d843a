package journal

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// streamOf is a write func for WriteSucceeded that writes line in pieces
// of n bytes.
func streamOf(line string, n int) func(io.Writer) error {
	return func(w io.Writer) error {
		for len(line) > 0 {
			k := min(n, len(line))
			if _, err := io.WriteString(w, line[:k]); err != nil {
				return err
			}
			line = line[k:]
		}
		return nil
	}
}

// bigLine is a results line of id padded to about size bytes.
func bigLine(id string, size int) string {
	return `{"id":"` + id + `","pad":"` + strings.Repeat("p", size) + `"}`
}

// TestWriteSucceededAfterTheQueue checks that a streamed line goes after
// the lines queued before it, in pieces larger and smaller than a write,
// that it counts them and itself, marks its id done, and reads back.
func TestWriteSucceededAfterTheQueue(t *testing.T) {
	defer func(n int) { streamChunk = n }(streamChunk)
	streamChunk = 1000
	opts := journalPaths(t)
	j := openJournal(t, opts)
	if err := j.QueueSucceeded("a", []byte(`{"id":"a"}`)); err != nil {
		t.Fatal(err)
	}
	if err := j.QueueFailed([]byte(`{"id":"e"}`)); err != nil {
		t.Fatal(err)
	}
	big := bigLine("b", 5000)
	results, errs, err := j.WriteSucceeded("b", int64(len(big)), streamOf(big, 777))
	if err != nil || results != 2 || errs != 1 {
		t.Fatalf("WriteSucceeded = %d, %d, %v; want 2, 1, nil", results, errs, err)
	}
	if !j.Done().Has("b") {
		t.Error("b not in Done after its line was written")
	}
	small := bigLine("c", 10)
	if results, errs, err := j.WriteSucceeded("c", int64(len(small)), streamOf(small, 3000)); err != nil || results != 1 || errs != 0 {
		t.Fatalf("WriteSucceeded of a line in one piece = %d, %d, %v; want 1, 0, nil", results, errs, err)
	}
	if got, want := readFile(t, opts.ResultsPath), "{\"id\":\"a\"}\n"+big+"\n"+small+"\n"; got != want {
		t.Errorf("results file of %d bytes; want %d: the queue, then the lines", len(got), len(want))
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openJournal(t, opts)
	if got := j.Resumed(); got != 3 {
		t.Errorf("reopened: %d resumed; want 3", got)
	}
}

// TestWriteSucceededRefuses checks the refusals that write nothing: a
// line over MaxLine, an id done, a journal closed.
func TestWriteSucceededRefuses(t *testing.T) {
	opts := journalPaths(t)
	opts.MaxLine = 100
	j := openJournal(t, opts)
	long := bigLine("x", 100)
	if _, _, err := j.WriteSucceeded("x", int64(len(long)), streamOf(long, 10)); !errors.Is(err, ErrLineTooLong) {
		t.Errorf("a line over MaxLine: %v; want ErrLineTooLong", err)
	}
	if err := j.QueueSucceeded("a", []byte(`{"id":"a"}`)); err != nil {
		t.Fatal(err)
	}
	line := `{"id":"a"}`
	if _, _, err := j.WriteSucceeded("a", int64(len(line)), streamOf(line, 3)); !errors.Is(err, ErrAlreadySucceeded) {
		t.Errorf("an id queued before: %v; want ErrAlreadySucceeded", err)
	}
	if lines, _ := j.Queued(); lines != 1 {
		t.Errorf("%d lines queued after the refusals; want the 1, unflushed", lines)
	}
	j.Close()
	if _, _, err := j.WriteSucceeded("z", int64(len(line)), streamOf(line, 3)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v; want ErrClosed", err)
	}
	if got := readFile(t, opts.ResultsPath); got != "{\"id\":\"a\"}\n" {
		t.Errorf("results file %q; want only the queued line", got)
	}
}

// TestWriteSucceededCutsAFailedLine checks that a line whose making fails
// after pieces of it were written (its body unreadable, a wrong size, a
// newline) is cut off the file again, its id not done, and the journal
// goes on.
func TestWriteSucceededCutsAFailedLine(t *testing.T) {
	defer func(n int) { streamChunk = n }(streamChunk)
	streamChunk = 100
	opts := journalPaths(t)
	j := openJournal(t, opts)
	if err := j.QueueSucceeded("a", []byte(`{"id":"a"}`)); err != nil {
		t.Fatal(err)
	}
	big := bigLine("b", 1000)
	errRead := errors.New("spool unreadable")
	for _, tc := range []struct {
		name  string
		size  int
		write func(io.Writer) error
	}{
		{"write fails", len(big), func(w io.Writer) error { streamOf(big[:500], 50)(w); return errRead }},
		{"shorter than said", len(big) + 1, streamOf(big, 50)},
		{"longer than said", len(big) - 1, streamOf(big, 50)},
		{"a newline", len(big) + 1, streamOf(big[:500]+"\n"+big[500:], 50)},
	} {
		if _, _, err := j.WriteSucceeded("b", int64(tc.size), tc.write); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
		if got := readFile(t, opts.ResultsPath); got != "{\"id\":\"a\"}\n" {
			t.Errorf("%s: results file of %d bytes; want the queued line only", tc.name, len(got))
		}
		if j.Done().Has("b") {
			t.Errorf("%s: b in Done", tc.name)
		}
	}
	if results, _, err := j.WriteSucceeded("b", int64(len(big)), streamOf(big, 50)); err != nil || results != 1 {
		t.Fatalf("after the failures: %d, %v; want the line written", results, err)
	}
	if got := readFile(t, opts.ResultsPath); got != "{\"id\":\"a\"}\n"+big+"\n" {
		t.Errorf("results file of %d bytes; want the two lines", len(got))
	}
}

// failingWriter takes n bytes and then fails.
type failingWriter struct {
	strings.Builder
	n int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.Len()+len(p) > w.n {
		k := w.n - w.Len()
		w.Builder.Write(p[:k])
		return k, errors.New("standard output closed")
	}
	return w.Builder.Write(p)
}

// TestWriteSucceededToResults checks streaming to Options.Results
// (standard output): lines whole and in order, a failure before anything
// went leaves the journal usable, and once part of a line went, any
// failure fails it for good.
func TestWriteSucceededToResults(t *testing.T) {
	defer func(n int) { streamChunk = n }(streamChunk)
	streamChunk = 100
	opts := journalPaths(t)
	out := &failingWriter{n: 1500}
	opts.Results = out
	j := openJournal(t, opts)
	if err := j.QueueSucceeded("a", []byte(`{"id":"a"}`)); err != nil {
		t.Fatal(err)
	}
	small := bigLine("s", 20)
	if _, _, err := j.WriteSucceeded("s", int64(len(small)+1), streamOf(small, 5)); err == nil {
		t.Fatal("a line shorter than said: no error")
	}
	if results, _, err := j.WriteSucceeded("s", int64(len(small)), streamOf(small, 5)); err != nil || results != 1 {
		t.Fatalf("after a failure in the first piece: %d, %v; want the line written", results, err)
	}
	if got, want := out.String(), "{\"id\":\"a\"}\n"+small+"\n"; got != want {
		t.Errorf("output %q; want %q", got, want)
	}
	big := bigLine("b", 1000)
	if _, _, err := j.WriteSucceeded("b", int64(len(big)), streamOf(big, 50)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.WriteSucceeded("c", int64(len(big)), streamOf(bigLine("c", 1000), 50)); err == nil {
		t.Fatal("output failed mid-line: no error")
	}
	if err := j.QueueSucceeded("d", []byte(`{"id":"d"}`)); err == nil {
		t.Error("the journal still takes lines after a torn one went to its output")
	}
}
