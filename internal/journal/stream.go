package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// A results line too large to hold in memory (the runner spools such a
// response body to a file) is not queued: WriteSucceeded flushes the
// queue, so that lines stay in the order they were handed over, and then
// writes the line in pieces while it is made. The promise of the package
// comment holds piece by piece: nothing else is appended to the file
// between the pieces (the journal's lock is held, and the file's flock
// keeps other processes out), the '\n' goes with the last piece, and the
// id is marked done and the line counted only once it is all written. A
// kill -9 between two pieces leaves a last line without its '\n', which
// the next Open cuts off, and the item runs again.

// streamChunk is how much of a streamed line goes in one write(2).
var streamChunk = 1 << 20 // a variable for the crash test, whose lines are small

// ErrLineTooLong: WriteSucceeded was given a line over MaxLine. Nothing
// was written.
var ErrLineTooLong = errors.New("line over the limit")

// MaxLine returns the longest results line, '\n' included, that the
// journal accepts (Options.MaxLine).
func (j *Journal) MaxLine() int { return j.maxLine }

// WriteSucceeded writes the results line of id, of size bytes without its
// '\n', that write writes to the io.Writer it is given, in any number of
// calls; write must not call the journal. It first writes what is queued,
// as Flush does, and returns, as Flush does, how many results and errors
// lines it wrote, the new line included. The memory it needs does not
// depend on size.
//
// It refuses, having written nothing, a line over MaxLine
// (ErrLineTooLong) or an id already in Done (ErrAlreadySucceeded). When
// write fails, or writes other than size bytes or a '\n', the part written
// is cut off the results file again and the journal stays usable (the
// queued lines flushed before are counted); a failed write to the file
// fails the journal for good, as in Flush. With Options.Results a part
// already written cannot be taken back, so any failure after the first
// piece went fails the journal.
func (j *Journal) WriteSucceeded(id string, size int64, write func(io.Writer) error) (results, errors int, err error) {
	h := idHash(id)
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usableLocked(); err != nil {
		return 0, 0, err
	}
	if size < 1 {
		return 0, 0, fmt.Errorf("journal: %s: empty line", j.resultsPath)
	}
	if size+1 > int64(j.maxLine) {
		return 0, 0, fmt.Errorf("journal: %s: a line of %d bytes is over the %d-byte limit: %w", j.resultsPath, size+1, j.maxLine, ErrLineTooLong)
	}
	if j.done.isDone(h) {
		return 0, 0, fmt.Errorf("journal: %s: id %q: %w", j.resultsPath, id, ErrAlreadySucceeded)
	}
	if results, errors, err = j.flushLocked(); err != nil {
		return results, errors, err
	}
	before := j.pendingResults + j.pendingErrors
	var out io.Writer = j.resultsFile
	if j.resultsWriter != nil {
		out = j.resultsWriter
	}
	if cap(j.streamBuf) < streamChunk {
		j.streamBuf = make([]byte, 0, streamChunk)
	}
	lw := &lineWriter{out: out, buf: j.streamBuf[:0], left: size}
	werr := write(lw)
	switch {
	case lw.err != nil:
		werr = lw.err
	case werr == nil && lw.left != 0:
		werr = fmt.Errorf("a line of %d bytes, not %d", size-lw.left, size)
	case werr == nil:
		lw.buf = append(lw.buf, '\n')
		lw.flush()
	}
	if lw.outErr != nil {
		// The file (or standard output) refused a piece: as a failed
		// Flush, the journal fails, the part written cut off the file.
		j.err = fmt.Errorf("journal: %s: %w", j.resultsPath, lw.outErr)
		j.cutLocked(lw.written)
		return results, errors, j.err
	}
	if werr != nil {
		werr = fmt.Errorf("journal: %s: id %q: %w", j.resultsPath, id, werr)
		if lw.written > 0 {
			if j.resultsWriter != nil {
				j.err = fmt.Errorf("%w (and part of its line is written)", werr)
				return results, errors, j.err
			}
			j.cutLocked(lw.written)
		}
		if j.err != nil {
			return results, errors, j.err
		}
		return results, errors, werr
	}
	j.resultsSize += lw.written
	results++
	j.pendingResults++
	j.notePendingLocked(before)
	if !j.done.takeDone(h) {
		// Checked above under j.mu, which every marking by the journal
		// holds: only an id added to Done by hand gets here, and the file
		// holds its line twice now, as Open and Compact allow.
		return results, errors, fmt.Errorf("journal: %s: id %q, added to Done while its line was written: %w", j.resultsPath, id, ErrAlreadySucceeded)
	}
	return results, errors, nil
}

// cutLocked cuts the written bytes of a line WriteSucceeded could not end
// off the results file, failing the journal if that fails: a torn line
// must not stay in the middle of the file.
func (j *Journal) cutLocked(written int64) {
	if j.resultsFile == nil || written == 0 {
		return
	}
	if err := j.resultsFile.Truncate(j.resultsSize); err != nil {
		cut := fmt.Errorf("journal: %s: cutting the partial line: %w", j.resultsPath, err)
		j.err = errors.Join(j.err, cut)
	}
}

// lineWriter is what WriteSucceeded gives write: it gathers the line in
// pieces of streamChunk, refusing a '\n' or more than the line's size.
type lineWriter struct {
	out     io.Writer
	buf     []byte
	left    int64 // bytes the line still has to get
	written int64 // bytes out took
	err     error // the line is wrong; nothing more is written
	outErr  error // out failed
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if int64(len(p)) > w.left {
		w.err = errors.New("a line longer than its size")
		return 0, w.err
	}
	if bytes.IndexByte(p, '\n') >= 0 {
		w.err = errors.New("a line holds a newline")
		return 0, w.err
	}
	w.left -= int64(len(p))
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == cap(w.buf) && !w.flush() {
			return 0, w.err
		}
	}
	return n, nil
}

// flush writes the gathered piece; false when out failed.
func (w *lineWriter) flush() bool {
	if len(w.buf) == 0 {
		return true
	}
	n, err := w.out.Write(w.buf)
	w.written += int64(n)
	w.buf = w.buf[:0]
	if err != nil {
		w.outErr, w.err = err, err
		return false
	}
	return true
}
