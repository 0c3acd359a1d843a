package journal

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// The checks and the write that every append goes through.

// checkLine refuses a line that is empty or holds a '\n'.
func checkLine(path string, line []byte) error {
	if len(line) == 0 {
		return fmt.Errorf("journal: %s: empty line", path)
	}
	if bytes.IndexByte(line, '\n') >= 0 {
		return fmt.Errorf("journal: %s: line holds a newline", path)
	}
	return nil
}

// checkResultSize refuses a results line that, with its '\n', is over
// MaxLine.
func (j *Journal) checkResultSize(line []byte) error {
	if len(line)+1 > j.maxLine {
		return fmt.Errorf("journal: %s: a line of %d bytes is over the %d-byte limit", j.resultsPath, len(line)+1, j.maxLine)
	}
	return nil
}

// takeSucceededLocked marks id (hash h) done in Done, or says why it
// cannot succeed now: the journal is closed or failed, or id is in Done
// already (and then Done is unchanged).
func (j *Journal) takeSucceededLocked(id string, h uint64) error {
	if err := j.usableLocked(); err != nil {
		return err
	}
	if !j.done.takeDone(h) {
		return fmt.Errorf("journal: %s: id %q: %w", j.resultsPath, id, ErrAlreadySucceeded)
	}
	return nil
}

func (j *Journal) usableLocked() error {
	if j.closed {
		return fmt.Errorf("journal: %s: %w", j.resultsPath, ErrClosed)
	}
	return j.err
}

// writeLocked writes whole lines with one Write, which for a regular file
// is one write(2) unless that fails part way (os.File.Write retries a
// short write only to report its error) or the lines are over 1 GiB.
//
// f is a file but for the results of Options.Results, which are not cut.
func (j *Journal) writeLocked(f io.Writer, path string, size *int64, lines []byte) error {
	n, err := f.Write(lines)
	if err == nil {
		*size += int64(n)
		return nil
	}
	j.err = fmt.Errorf("journal: %s: %w", path, err)
	if file, ok := f.(*os.File); ok && n > 0 && (file == j.resultsFile || file == j.errorsFile) {
		// Cut the partial lines now, or the next run would find a torn one
		// in the middle of the file if anything were appended after it.
		if terr := file.Truncate(*size); terr != nil {
			j.err = fmt.Errorf("journal: %s: %w (and cutting the partial line: %v)", path, err, terr)
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
