package journal

// largeIndex is the table size, in slots, from which the index's tables
// are allocated outside the Go heap (see allocSlots).
const largeIndex = 1 << 16

// Reserve makes room for n ids without growing again, so that a run that
// knows its size (the input's line count) never holds two tables at once
// while rehashing.
func (x *Index) Reserve(n int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for n*5 > len(x.hashes)*4 {
		x.grow()
	}
}
