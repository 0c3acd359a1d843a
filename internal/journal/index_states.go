package journal

// One index serves both resume and duplicate detection, so that the runner
// keeps a single id index (the 40-byte-per-item budget has no room for
// two). Each slot's line holds the input line the id was seen on in this
// run (0 when not seen yet) and, in its top bit, whether the id has
// succeeded: in an earlier run (read back from the results file) or in
// this one.
const (
	doneBit  = 1 << 31
	lineMask = doneBit - 1
)

// Sighting is what the index knew of an id the input names.
type Sighting int

const (
	// SightNew: the id is new; it is now recorded as seen on its line.
	SightNew Sighting = iota
	// SightResumed: an earlier run succeeded with it; skip it.
	SightResumed
	// SightRepeated: the input named it before, on the line See returns.
	SightRepeated
)

// See records that the input names id on line and says what that means.
func (x *Index) See(id string, line int) (Sighting, int) {
	h := idHash(id)
	x.mu.Lock()
	defer x.mu.Unlock()
	stored := uint32(0)
	if line > 0 && line <= lineMask {
		stored = uint32(line)
	}
	if x.n > 0 {
		if i, found := x.slot(h); found {
			if first := x.lines[i] & lineMask; first != 0 {
				return SightRepeated, int(first)
			}
			x.lines[i] |= stored // resumed: remember the line, for repeats
			return SightResumed, 0
		}
	}
	x.insertLocked(h, stored)
	return SightNew, 0
}

// isDone reports whether the id with hash h has succeeded.
func (x *Index) isDone(h uint64) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.n == 0 {
		return false
	}
	i, found := x.slot(h)
	return found && x.lines[i]&doneBit != 0
}

// takeDone marks the id with hash h done unless it is done already, and
// reports whether it marked it: the check and the mark under one lock and
// one probe, for every result the runner queues.
func (x *Index) takeDone(h uint64) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.n > 0 {
		if i, found := x.slot(h); found {
			if x.lines[i]&doneBit != 0 {
				return false
			}
			x.lines[i] |= doneBit
			return true
		}
	}
	x.insertLocked(h, doneBit)
	return true
}

// insertLocked adds h, which is not in the table. x.mu is held.
func (x *Index) insertLocked(h uint64, stored uint32) {
	if (x.n+1)*5 > len(x.hashes)*4 {
		x.grow()
	}
	i, _ := x.slot(h)
	x.hashes[i], x.lines[i] = h, stored
	x.n++
}
