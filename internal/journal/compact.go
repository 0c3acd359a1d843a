package journal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/internal/flock"
)

// A results file holds one line per id, except after an id ran again
// without a review (its request changed: [Index.Redo] during the run, as
// for standard input; supersede.go) or after a kill between such a run's
// append and its Compact: then the id's new line follows the old one, and
// the last line of an id is its result (Open reads them in order, and the
// fingerprint of the last one counts).
//
// Compact restores one line per id. It keeps the last line of every id,
// in order, in a new file renamed over the results file, and moves the
// superseded lines (results paid for) to a numbered file beside it, as
// Restart does. The new file is complete and fsynced before the rename, so
// a kill at any moment leaves either the old file (the last line still
// counts) or the compacted one: nothing lost, and after the rename nothing
// doubled. It costs two scans of the results file, and no memory beyond
// the index: the count of each id's lines lives in the index's line slots,
// which the run no longer needs.

// Compact rewrites the results file to one line per id when it holds more
// (see above); it does nothing, cheaply, otherwise. It returns how many
// lines it moved aside and where. Call it at the end of a run, after the
// last Flush: the index's input lines (used to report repeated ids) are
// spent, so the run must not See ids afterwards.
func (j *Journal) Compact() (moved int, aside string, err error) {
	// The sync lock first, then the journal's: the order the fsync pass
	// and Close take them in. Compact swaps the results file, which the
	// sync lock guards; taking it under j.mu deadlocked with a sync pass.
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.filesClosed {
		return 0, "", fmt.Errorf("journal: %s: %w", j.resultsPath, ErrClosed)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usableLocked(); err != nil {
		return 0, "", err
	}
	j.done.mu.Lock()
	redone := j.done.redone
	j.done.mu.Unlock()
	if redone == 0 && j.repeats == 0 {
		return 0, "", nil
	}
	return j.rewriteLocked(false)
}

// rewriteLocked flushes what is queued and rewrites the results file
// (compactLocked: onlyDone keeps only the lines of ids still done), then
// notes that no repeat or changed id is left in it. j.mu is held.
func (j *Journal) rewriteLocked(onlyDone bool) (moved int, aside string, err error) {
	if _, _, err := j.flushLocked(); err != nil {
		return 0, "", err
	}
	moved, aside, err = j.compactLocked(onlyDone)
	if err != nil {
		j.err = err // the journal's file may be in doubt: refuse what follows
		return 0, "", err
	}
	j.repeats = 0
	j.done.mu.Lock()
	j.done.redone = 0
	j.done.mu.Unlock()
	return moved, aside, nil
}

// compactLocked rewrites the results file keeping the last line of each
// id, and with onlyDone only those of ids done (Supersede). j.syncMu and
// j.mu are held, in that order.
func (j *Journal) compactLocked(onlyDone bool) (int, string, error) {
	x := j.done
	x.mu.Lock()
	for i := range x.lines {
		x.lines[i] &= doneBit // the low bits count each id's lines now
	}
	x.mu.Unlock()
	if err := j.eachLine(func(line []byte, h uint64) error {
		x.countLine(h)
		return nil
	}); err != nil {
		return 0, "", err
	}

	// A kill during an earlier Compact may have left its file; none can
	// be in use, since ours is the lock on the results file.
	if stale, _ := filepath.Glob(j.resultsPath + ".compact-*"); len(stale) > 0 {
		for _, f := range stale {
			os.Remove(f)
		}
	}
	tmpPath := j.resultsPath + ".compact-" + fmt.Sprint(os.Getpid())
	tmp, err := os.OpenFile(tmpPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o666)
	if err != nil {
		return 0, "", fmt.Errorf("journal: %w", err)
	}
	if err := flock.Lock(tmp); err != nil {
		tmp.Close()
		return 0, "", fmt.Errorf("journal: %s: %w", tmpPath, err)
	}
	keep := bufio.NewWriterSize(tmp, 256<<10)
	// The superseded lines go to a temporary file too, named so that the
	// next Compact removes it if a kill leaves it, and become a numbered
	// file only once whole: a kill mid-write left a numbered file ending
	// in a torn line (found by TestCompactSurvivesKill under load).
	asideTmp := j.resultsPath + ".compact-aside-" + fmt.Sprint(os.Getpid())
	var (
		asidePath string
		asideFile *os.File
		old       *bufio.Writer
		moved     int
		size      int64
	)
	fail := func(err error) (int, string, error) {
		tmp.Close()
		os.Remove(tmpPath)
		if asideFile != nil {
			asideFile.Close()
		}
		os.Remove(asideTmp)
		return 0, "", err
	}
	err = j.eachLine(func(line []byte, h uint64) error {
		if x.takeLine(h) && (!onlyDone || x.isDone(h)) {
			size += int64(len(line)) + 1
			keep.Write(line)
			return keep.WriteByte('\n')
		}
		if asideFile == nil {
			if asideFile, err = os.OpenFile(asideTmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
			old = bufio.NewWriterSize(asideFile, 256<<10)
		}
		moved++
		old.Write(line)
		return old.WriteByte('\n')
	})
	if err != nil {
		return fail(err)
	}
	if err := keep.Flush(); err != nil {
		return fail(fmt.Errorf("journal: %s: %w", tmpPath, err))
	}
	if err := tmp.Sync(); err != nil {
		return fail(fmt.Errorf("journal: %s: %w", tmpPath, err))
	}
	if asideFile != nil {
		if err := errors.Join(old.Flush(), asideFile.Sync(), asideFile.Close()); err != nil {
			asideFile = nil
			return fail(fmt.Errorf("journal: %s: %w", asideTmp, err))
		}
		asideFile = nil
		// Reserve a free number, then put the whole file in its place;
		// the directory is synced before the results file is replaced,
		// so the superseded lines are never only in a file the next
		// Compact would remove.
		name, reserved, err := createNumbered(j.resultsPath)
		if err != nil {
			return fail(err)
		}
		reserved.Close()
		if err := os.Rename(asideTmp, name); err != nil {
			os.Remove(name)
			return fail(fmt.Errorf("journal: %w", err))
		}
		asidePath = name
		syncDir(filepath.Dir(j.resultsPath))
	}
	if err := os.Rename(tmpPath, j.resultsPath); err != nil {
		return fail(fmt.Errorf("journal: %w", err))
	}
	syncDir(filepath.Dir(j.resultsPath))
	j.resultsFile.Close() // j.syncMu is held (Compact)
	j.resultsFile = tmp
	j.resultsSize = size
	return moved, asidePath, nil
}

// eachLine calls f with every non-blank line of the results file, without
// its '\n', and its id's hash. The file holds only whole lines of valid
// JSON with ids: Open checked those it found, and the journal wrote the
// rest.
func (j *Journal) eachLine(f func(line []byte, h uint64) error) error {
	r := bufio.NewReaderSize(io.NewSectionReader(j.resultsFile, 0, j.resultsSize), 64<<10)
	var buf []byte
	for lineNo := 1; ; lineNo++ {
		line, _, complete, err := readLine(r, 1<<62, &buf)
		if err != nil {
			return fmt.Errorf("journal: %s line %d: %w", j.resultsPath, lineNo, err)
		}
		if !complete {
			return nil // the end (the file ends with '\n')
		}
		line = line[:len(line)-1]
		if isBlankLine(line) {
			continue
		}
		id, ok := j.id(line)
		if !ok {
			return fmt.Errorf("journal: %s line %d: no id", j.resultsPath, lineNo)
		}
		if err := f(line, idHash(id)); err != nil {
			return err
		}
	}
}

// createNumbered creates the first numbered file beside path (out.1.jsonl,
// out.2.jsonl, ...) that does not exist.
func createNumbered(path string) (string, *os.File, error) {
	for n := 1; ; n++ {
		name := numbered(path, n)
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil {
			return name, f, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", nil, fmt.Errorf("journal: %w", err)
		}
	}
}

// countLine counts one more line of the id with hash h (compact.go).
func (x *Index) countLine(h uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.n == 0 {
		return
	}
	if i, found := x.slot(h); found && x.lines[i]&lineMask != lineMask {
		x.lines[i]++
	}
}

// takeLine uncounts a line of the id with hash h and reports whether it
// was the id's last.
func (x *Index) takeLine(h uint64) (last bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.n == 0 {
		return true
	}
	i, found := x.slot(h)
	if !found || x.lines[i]&lineMask == 0 {
		return true
	}
	x.lines[i]--
	return x.lines[i]&lineMask == 0
}
