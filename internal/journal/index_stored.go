package journal

// Destinations other than the results file (a database table, in
// internal/table) keep their results elsewhere but share the runner's
// index, so that resuming, repeated ids and changed requests work the same
// whatever the destination. These two methods are what such a
// destination does with the index where a Journal uses its own unexported
// ones.

// MarkStored marks id done, with the request fingerprint its stored
// result recorded (0: none), as Open does for each line of a results
// file. It reports whether id was done already. A later call for the same
// id replaces the fingerprint.
func (x *Index) MarkStored(id string, fp uint64) (again bool) {
	var folded uint32
	if fp != 0 {
		folded = FoldFingerprint(fp)
	}
	return x.markDoneFP(idHash(id), folded)
}

// TakeDone marks id done unless it is done already, and reports whether
// it marked it: the step [Journal.QueueSucceeded] takes before queueing a
// line, checked and taken under one lock, so that no id is taken twice.
func (x *Index) TakeDone(id string) bool {
	return x.takeDone(idHash(id))
}
