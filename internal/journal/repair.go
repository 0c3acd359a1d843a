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
	sc := scan{path: j.resultsPath, maxLine: j.maxLine, id: j.id, fingerprint: j.fingerprint, done: j.done}
	keep, err := sc.read(j.resultsFile, size)
	if err != nil {
		return err
	}
	j.unrecorded, j.repeats = sc.unrecorded, sc.repeats
	if keep < size {
		if err := j.resultsFile.Truncate(keep); err != nil {
			return fmt.Errorf("journal: %s: cutting the torn line %d: %w", j.resultsPath, sc.lines, err)
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

// scan reads a results file back: Open's reading, and [Read]'s, which
// share it so that a dry run counts exactly what a run would resume.
type scan struct {
	path        string
	maxLine     int
	id          func([]byte) (string, bool)
	fingerprint func([]byte) uint64 // may be nil
	done        *Index

	unrecorded int // lines read back without a fingerprint
	repeats    int // lines of an id read before
	lines      int // lines read, a torn last one included
}

// read puts the id of every line of f's first size bytes into s.done and
// returns where the last line kept ends: before a torn last line, if
// any, which the caller cuts (Open) or ignores (Read).
func (s *scan) read(f io.ReaderAt, size int64) (keep int64, err error) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 64<<10)
	var (
		buf []byte // holds a line longer than the reader's buffer
		off int64  // where the next line starts
	)
	for off < size {
		s.lines++
		line, n, complete, err := readLine(r, s.maxLine, &buf)
		if err != nil {
			return 0, fmt.Errorf("journal: %s line %d: %w", s.path, s.lines, err)
		}
		off += n
		if !complete {
			// No '\n': the write that carried it was cut short, so the
			// Flush never returned and the item was never reported. Cut it.
			break
		}
		if line == nil {
			return 0, fmt.Errorf("journal: %s line %d: longer than %d bytes", s.path, s.lines, s.maxLine)
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
			return 0, fmt.Errorf("journal: %s line %d: not valid JSON, and only the last line can be torn: not a results file, or a damaged one", s.path, s.lines)
		}
		id, ok := s.id(line)
		if !ok {
			return 0, fmt.Errorf("journal: %s line %d: no id", s.path, s.lines)
		}
		var fp uint32
		if s.fingerprint != nil {
			if v := s.fingerprint(line); v != 0 {
				fp = FoldFingerprint(v)
			} else {
				s.unrecorded++
			}
		}
		if s.done.markDoneFP(idHash(id), fp) {
			s.repeats++ // superseded by this later line: Compact moves it aside
		}
		keep = off
	}
	return keep, nil
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
