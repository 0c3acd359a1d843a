package journal

import "fmt"

// An id whose request changed runs again, and its new line must not join
// its old one in the results file: a kill -9 between the new line's write
// and the run's Compact would leave the id there twice (the reviewer's
// kill during a resume whose input changed: 74 of 200 ids twice). So a
// resume that can read its input before running it does so first: it
// hands every item to Review, which Redoes each id whose request changed,
// then calls Supersede, which moves those ids' lines aside in one rewrite,
// before anything is sent. Their new lines are then appended to a file
// that no longer has the old ones.
//
// Supersede is Compact's rewrite with one more rule (a line is kept only
// if its id is done), so it is as crash-safe: the superseded lines are
// written to a temporary file, fsynced, and named out.N.jsonl, and the
// directory synced, before the kept lines, fsynced too, are renamed over
// the results file. A kill before the rename leaves the old results file
// whole (and perhaps a numbered copy of its superseded lines, which the
// next resume moves aside again): every id once. After it, the ids
// superseded are in the numbered file only, and not done, so the next
// run runs them. At no moment does the results file hold an id twice, and
// a result reported by an earlier run is always in the results file or in
// a numbered file beside it.

// Review is a resume's first look at one item of its input, before
// anything runs: when id's result is in the results file and its request
// (fingerprint fp) is not the one the result came from, it Redoes id and
// reports true. Only an id's first item counts, as it does in the run
// (a later one is a repeated id, not run): Review marks each id it looked
// at, and Supersede, which must follow the review, clears the marks.
func (x *Index) Review(id string, fp uint64) (changed bool) {
	h := idHash(id)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.n == 0 || x.fps == nil {
		return false
	}
	i, found := x.slot(h)
	if !found || x.lines[i] != doneBit {
		return false // not done, looked at already, or Redone
	}
	if x.fps[i] == 0 || x.fps[i] == FoldFingerprint(fp) {
		x.lines[i] |= 1 // looked at: a later item of id is a repeat
		return false
	}
	x.lines[i] &^= doneBit
	x.redone++
	return true
}

// Succeeded reports whether id is done: in the results file, or queued
// as succeeded in this run. An id Supersede moved aside is in the index
// but not done.
func (x *Index) Succeeded(id string) bool { return x.isDone(idHash(id)) }

// Supersede ends a review (see [Index.Review]): it moves the lines of the
// ids the review Redid out of the results file, to a numbered file beside
// it, before any of them runs again, so that the file never holds an id
// twice. Lines an older sluice left twice for one id (a kill before its
// Compact) are compacted too, keeping the last. It does nothing to the
// file when no id changed and none is there twice. It returns how many
// lines it moved and where. Call it after Open and the review, before the
// first Queue; on an error the journal refuses what follows.
func (j *Journal) Supersede() (moved int, aside string, err error) {
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
	x := j.done
	x.mu.Lock()
	for i := range x.lines {
		x.lines[i] &= doneBit // Review's marks
	}
	redone := x.redone
	x.mu.Unlock()
	if j.resultsFile == nil || redone == 0 && j.repeats == 0 {
		return 0, "", nil
	}
	return j.rewriteLocked(true) // nothing is left for Compact then: the changed ids are not in the file
}
