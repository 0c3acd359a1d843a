package journal

// Request fingerprints: each results line may carry a fingerprint of the
// request that produced it (see Options.Fingerprint), so that a run can
// tell an id whose request changed since (a new model, a new prompt) from
// one that is the same, and run only the first again.
//
// The index keeps 32 bits of each fingerprint, in a table beside the
// hashes that exists only once a fingerprint was read back: 4 bytes a
// slot, 5 to 10 bytes an id, which keeps a resumed million ids near 34
// bytes each, under the 40-byte budget (a whole 64-bit fingerprint would
// take it to 42 at the table's emptiest). The price is that a changed
// request has one chance in 2³² of looking unchanged, and so of keeping
// its old result.

// FoldFingerprint is the part of a 64-bit fingerprint the index keeps:
// never 0, which means "none recorded".
func FoldFingerprint(fp uint64) uint32 {
	v := uint32(fp ^ fp>>32)
	if v == 0 {
		v = 1
	}
	return v
}

// Change is what the index knows of an id's request compared with the one
// its recorded result came from.
type Change int

const (
	// Unchanged: the fingerprints match.
	Unchanged Change = iota
	// Changed: the request differs from the one the result came from.
	Changed
	// Unrecorded: the result's line carries no fingerprint (written by a
	// sluice from before fingerprints), or the id has no result.
	Unrecorded
)

// Compare says whether fp is the fingerprint recorded with id's result.
func (x *Index) Compare(id string, fp uint64) Change {
	h := idHash(id)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.n == 0 || x.fps == nil {
		return Unrecorded
	}
	i, found := x.slot(h)
	switch {
	case !found || x.fps[i] == 0:
		return Unrecorded
	case x.fps[i] == FoldFingerprint(fp):
		return Unchanged
	}
	return Changed
}

// Redo marks id, done in an earlier run, as not done, so that it runs
// again and [Journal.QueueSucceeded] takes its new result. Reviewed
// before the run ([Index.Review], [Journal.Supersede]), the earlier line
// is moved aside before the new one comes; otherwise the new line is
// appended after it, the last line of an id is its result (Open reads
// them in order), and [Journal.Compact] moves the earlier one aside.
func (x *Index) Redo(id string) {
	h := idHash(id)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.n == 0 {
		return
	}
	if i, found := x.slot(h); found && x.lines[i]&doneBit != 0 {
		x.lines[i] &^= doneBit
		x.redone++
	}
}

// markDoneFP is markDone for a line read back from the results file, with
// the fingerprint it recorded (0: none). A later line of the same id
// replaces an earlier one's fingerprint: the last line is the result. It
// reports whether the id was done already: the file holds it twice.
func (x *Index) markDoneFP(h uint64, fp uint32) (again bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	i, found := 0, false
	if x.n > 0 {
		i, found = x.slot(h)
	}
	if !found {
		x.insertLocked(h, 0)
		i, _ = x.slot(h)
	}
	again = x.lines[i]&doneBit != 0
	x.lines[i] |= doneBit
	if x.fps == nil {
		if fp == 0 {
			return again
		}
		x.fps, x.freeFP = allocWords(len(x.hashes))
	}
	x.fps[i] = fp
	return again
}
