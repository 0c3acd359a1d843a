package journal

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// loadResults reads the results file (size bytes long) from the start, puts
// the id of every line into j.done, and cuts a torn last line. It streams:
// memory is one line at most, and only while reading it; the index keeps
// hashes, not lines.
func (j *Journal) loadResults(size int64) error {
	r := bufio.NewReaderSize(io.NewSectionReader(j.resultsFile, 0, size), 64<<10)
	var (
		buf    []byte // holds a line longer than the reader's buffer
		off    int64  // where the next line starts
		keep   int64  // end of the last line kept
		lineNo int
	)
	for off < size {
		lineNo++
		line, n, complete, err := readLine(r, j.maxLine, &buf)
		if err != nil {
			return fmt.Errorf("journal: %s line %d: %w", j.resultsPath, lineNo, err)
		}
		off += n
		if !complete {
			// No '\n': the write that carried it was cut short, so the
			// Flush never returned and the item was never reported. Cut it.
			break
		}
		if line == nil {
			return fmt.Errorf("journal: %s line %d: longer than %d bytes", j.resultsPath, lineNo, j.maxLine)
		}
		line = line[:len(line)-1]
		if isBlankLine(line) {
			keep = off
			continue
		}
		if !json.Valid(line) {
			if off == size {
				break // torn after all: the runner queues only valid JSON
			}
			return fmt.Errorf("journal: %s line %d: not valid JSON, and only the last line can be torn: not a results file, or a damaged one", j.resultsPath, lineNo)
		}
		id, ok := j.id(line)
		if !ok {
			return fmt.Errorf("journal: %s line %d: no id", j.resultsPath, lineNo)
		}
		var fp uint32
		if j.fingerprint != nil {
			if v := j.fingerprint(line); v != 0 {
				fp = FoldFingerprint(v)
			} else {
				j.unrecorded++
			}
		}
		if j.done.markDoneFP(idHash(id), fp) {
			j.repeats++ // superseded by this later line: Compact moves it aside
		}
		keep = off
	}
	if keep < size {
		if err := j.resultsFile.Truncate(keep); err != nil {
			return fmt.Errorf("journal: %s: cutting the torn line %d: %w", j.resultsPath, lineNo, err)
		}
		// Make the cut durable before anything is appended after it.
		if err := j.resultsFile.Sync(); err != nil {
			return fmt.Errorf("journal: %s: %w", j.resultsPath, err)
		}
	}
	j.resultsSize = keep
	j.resumed = j.done.Len()
	return nil
}

// readLine reads one line, '\n' included, and returns it with the
// number of bytes it took (n). complete is false when the input ended
// before a '\n'. A complete line longer than max is read through but
// returned as nil. The line is valid until the next call; buf is scratch
// space for lines that do not fit the reader's buffer.
func readLine(r *bufio.Reader, max int, buf *[]byte) (line []byte, n int64, complete bool, err error) {
	*buf = (*buf)[:0]
	for {
		chunk, err := r.ReadSlice('\n')
		n += int64(len(chunk))
		fits := n <= int64(max)
		if fits && err == nil && len(*buf) == 0 {
			return chunk, n, true, nil // the common case: no copy
		}
		if fits {
			*buf = append(*buf, chunk...)
		}
		switch err {
		case nil:
			if !fits {
				return nil, n, true, nil
			}
			return *buf, n, true, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			return nil, n, false, nil
		default:
			return nil, n, false, err
		}
	}
}

func isBlankLine(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
