package journal

import (
	"io"
	"os"
)

// The queue is how the runner writes (the package comment says why it
// loses and duplicates nothing): one write(2) a line would cost a system
// call a line, a good part of a run's time at tens of thousands of results
// a second. QueueSucceeded and QueueFailed keep lines in memory; Flush
// writes each file's queue with one write(2).

// maxQueue is how many bytes of queued lines a Flush may leave in memory
// for reuse; a larger queue is let go.
const maxQueue = 1 << 20

// QueueSucceeded queues a results line the caller built, as valid JSON
// without a '\n', whose id it knows, to be written by the next Flush. It
// does not read the line, which would cost more than writing it: a line
// that is not what it claims would be refused by the next Open, so only
// the caller's own lines belong here. The id counts as done at once, so it
// cannot be queued twice (ErrAlreadySucceeded). It refuses a line that is
// empty, holds a '\n' or is over MaxLine, and fails for good after a
// failed write or after Close.
func (j *Journal) QueueSucceeded(id string, line []byte) error {
	return j.QueueSucceededAppend(id, func(b []byte) []byte { return append(b, line...) })
}

// QueueSucceededAppend is QueueSucceeded for a line that appendLine
// appends to the slice it is given, and returns: the line is built where
// it is queued, with no allocation and no copy of its own. appendLine is
// called once, with the journal locked, and must not call the journal.
func (j *Journal) QueueSucceededAppend(id string, appendLine func([]byte) []byte) error {
	h := idHash(id)
	j.mu.Lock()
	defer j.mu.Unlock()
	start := len(j.queuedResults)
	queued := appendLine(j.queuedResults)
	line := queued[start:]
	// A line break would make two lines of one, and the torn-line repair
	// relies on one line an item; finding one costs next to nothing.
	err := checkLine(j.resultsPath, line)
	if err == nil {
		err = j.checkResultSize(line)
	}
	if err == nil {
		err = j.takeSucceededLocked(id, h)
	}
	if err != nil {
		j.queuedResults = queued[:start] // the queue as it was
		return err
	}
	j.queuedResults = append(queued, '\n')
	j.queuedResultLines++
	return nil
}

// QueueFailed queues an errors line, without its '\n', to be written by
// the next Flush.
func (j *Journal) QueueFailed(line []byte) error {
	if err := checkLine(j.errorsPath, line); err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usableLocked(); err != nil {
		return err
	}
	j.queuedErrors = append(append(j.queuedErrors, line...), '\n')
	j.queuedErrorLines++
	return nil
}

// Queued returns how many lines are queued, and their bytes.
func (j *Journal) Queued() (lines, bytes int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.queuedResultLines + j.queuedErrorLines, len(j.queuedResults) + len(j.queuedErrors)
}

// Flush writes the queued lines, each file's with one write(2), and
// returns how many results and errors lines it wrote. After a failed
// write it returns that error for good, having written nothing of the
// file that failed.
func (j *Journal) Flush() (results, errors int, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usableLocked(); err != nil {
		return 0, 0, err
	}
	return j.flushLocked()
}

func (j *Journal) flushLocked() (results, errors int, err error) {
	before := j.pendingResults + j.pendingErrors
	if len(j.queuedResults) > 0 {
		var out io.Writer = j.resultsFile
		if j.resultsWriter != nil {
			out = j.resultsWriter
		}
		if err := j.writeLocked(out, j.resultsPath, &j.resultsSize, j.queuedResults); err != nil {
			return 0, 0, err
		}
		results = j.queuedResultLines
		j.pendingResults += results
	}
	if len(j.queuedErrors) > 0 {
		if j.errorsFile == nil {
			// The first errors line of the run: only now is there an
			// errors file. A failure to create it fails the journal like a
			// failed write (the results written above are counted).
			if err := j.openErrors(os.O_CREATE, nil); err != nil {
				j.err = err
				j.notePendingLocked(before)
				return results, 0, err
			}
		}
		if err := j.writeLocked(j.errorsFile, j.errorsPath, &j.errorsSize, j.queuedErrors); err != nil {
			j.notePendingLocked(before)
			return results, 0, err
		}
		errors = j.queuedErrorLines
		j.pendingErrors += errors
	}
	j.queuedResults, j.queuedResultLines = reuse(j.queuedResults), 0
	j.queuedErrors, j.queuedErrorLines = reuse(j.queuedErrors), 0
	if results+errors > 0 {
		j.notePendingLocked(before)
	}
	return results, errors, nil
}

func reuse(b []byte) []byte {
	if cap(b) > maxQueue {
		return nil
	}
	return b[:0]
}
