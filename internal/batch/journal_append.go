package batch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/sluicehq/sluice/internal/input"
)

// Succeeded appends line, a results line without its '\n', and adds its id
// to Done. The line and its '\n' go to the file in one write(2), so a crash
// leaves at most a torn last line, which the next OpenJournal cuts. Report
// the item as done only after Succeeded returned nil.
//
// It refuses, writing nothing, a line that is empty, holds a '\n', is not
// valid JSON, has no id, is longer than MaxLine, or whose id is already in
// Done (ErrAlreadySucceeded); each of these would break the next resume.
// After a failed write it returns that error for good.
func (j *Journal) Succeeded(line []byte) error {
	if err := checkJournalLine(j.resultsPath, line); err != nil {
		return err
	}
	if err := j.checkResultSize(line); err != nil {
		return err
	}
	// The reader cuts a last line that is not valid JSON as torn; a line the
	// id function accepts but the reader would cut could be lost.
	if !json.Valid(line) {
		return fmt.Errorf("batch: %s: line is not valid JSON", j.resultsPath)
	}
	id, ok := j.lineID(line)
	if !ok {
		return fmt.Errorf("batch: %s: line has no id", j.resultsPath)
	}
	return j.succeeded(id, line)
}

// succeeded appends a checked line whose id is id.
func (j *Journal) succeeded(id string, line []byte) error {
	h := idHash(id)

	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.refuseSucceededLocked(id, h); err != nil {
		return err
	}
	if err := j.appendLocked(j.resultsFile, j.resultsPath, &j.resultsSize, line); err != nil {
		return err
	}
	j.done.markDone(h)
	j.pendingResults++
	j.notePendingLocked(j.pendingResults + j.pendingErrors - 1)
	return nil
}

// Failed appends line, an errors line without its '\n', to the errors file
// in one write(2). It refuses a line that is empty or holds a '\n'; the
// caller makes it JSON. After a failed write it returns that error for
// good.
func (j *Journal) Failed(line []byte) error {
	if err := checkJournalLine(j.errorsPath, line); err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usableLocked(); err != nil {
		return err
	}
	if err := j.appendLocked(j.errorsFile, j.errorsPath, &j.errorsSize, line); err != nil {
		return err
	}
	j.pendingErrors++
	j.notePendingLocked(j.pendingResults + j.pendingErrors - 1)
	return nil
}

func checkJournalLine(path string, line []byte) error {
	if len(line) == 0 {
		return fmt.Errorf("batch: %s: empty line", path)
	}
	if bytes.IndexByte(line, '\n') >= 0 {
		return fmt.Errorf("batch: %s: line holds a newline", path)
	}
	return nil
}

func (j *Journal) lineID(line []byte) (string, bool) {
	if j.id == nil {
		return input.ValidLineID(line)
	}
	return j.id(line)
}

// checkResultSize refuses a results line that, with its '\n', is over
// MaxLine.
func (j *Journal) checkResultSize(line []byte) error {
	if len(line)+1 > j.maxLine {
		return fmt.Errorf("batch: %s: a line of %d bytes is over the %d-byte limit", j.resultsPath, len(line)+1, j.maxLine)
	}
	return nil
}

// refuseSucceededLocked says why id cannot succeed now: the journal is
// closed or failed, or id is in Done already.
func (j *Journal) refuseSucceededLocked(id string, h uint64) error {
	if err := j.usableLocked(); err != nil {
		return err
	}
	if j.done.isDone(h) {
		return fmt.Errorf("batch: %s: id %q: %w", j.resultsPath, id, ErrAlreadySucceeded)
	}
	return nil
}

func (j *Journal) usableLocked() error {
	if j.closed {
		return fmt.Errorf("batch: %s: %w", j.resultsPath, ErrJournalClosed)
	}
	return j.err
}

// appendLocked writes line and '\n' with one Write.
func (j *Journal) appendLocked(f *os.File, path string, size *int64, line []byte) error {
	j.buf = append(append(j.buf[:0], line...), '\n')
	err := j.writeLocked(f, path, size, j.buf)
	if cap(j.buf) > 1<<20 {
		j.buf = nil // one huge line should not pin its buffer for the whole run
	}
	return err
}

// writeLocked writes whole lines with one Write, which for a regular file
// is one write(2) unless that fails part way (os.File.Write retries a
// short write only to report its error) or the lines are over 1 GiB.
func (j *Journal) writeLocked(f *os.File, path string, size *int64, lines []byte) error {
	n, err := f.Write(lines)
	if err == nil {
		*size += int64(n)
		return nil
	}
	j.err = fmt.Errorf("batch: %s: %w", path, err)
	if n > 0 {
		// Cut the partial lines now, or the next run would find a torn one
		// in the middle of the file if anything were appended after it.
		if terr := f.Truncate(*size); terr != nil {
			j.err = fmt.Errorf("batch: %s: %w (and cutting the partial line: %v)", path, err, terr)
		}
	}
	return j.err
}

// notePendingLocked tells the sync loop about appends that took the
// pending count from before to what it is now.
func (j *Journal) notePendingLocked(before int) {
	switch pending := j.pendingResults + j.pendingErrors; {
	case pending >= j.syncBatch:
		select {
		case j.batchFull <- struct{}{}:
		default:
		}
	case before == 0 && pending > 0:
		select {
		case j.firstPending <- struct{}{}:
		default:
		}
	}
}
