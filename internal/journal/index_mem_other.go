//go:build !unix

package journal

// allocSlots returns zeroed tables of n slots and a function that frees
// them; outside unix they live on the Go heap.
func allocSlots(n int) ([]uint64, []uint32, func()) {
	return make([]uint64, n), make([]uint32, n), func() {}
}

// allocWords is allocSlots for the fingerprint table.
func allocWords(n int) ([]uint32, func()) { return make([]uint32, n), func() {} }
