package journal

import (
	"sync"
)

// Index is a compact set of item ids, each with the input line it was
// first seen on and whether it has succeeded. The runner keeps one, the
// journal's (see [Journal.Done]), for both resuming and catching repeated
// ids in the input (see [Index.See]).
//
// An id is not stored: its 64-bit hash is. The index therefore costs the
// same whatever the ids' lengths: 15 to 30 bytes per id (12 bytes a slot,
// between 40% and 80% of the slots in use), about 25 bytes per id at one
// million ids. The price is that two different ids can share a hash, making
// [Index.Has] report an id it never saw: with n ids the chance that any
// two collide is about n²/2⁶⁵ (3·10⁻⁸ for a million ids, 3·10⁻⁶ for ten
// million). A false positive makes the runner skip an item as done, so the
// rate matters; it is far below the odds of a disk error.
//
// The hash is FNV-1a 64 followed by a bijective mixer, both with fixed
// constants, so every run and every process agrees on it and a collision,
// should one happen, can be reproduced.
//
// The zero value is an empty index ready to use. An Index is safe for
// concurrent use: every method takes one mutex, for the time of a probe.
// Add and Has cost one hash of the id (about 1 ns a byte) and a probe of a
// flat table.
type Index struct {
	// A Mutex, not an RWMutex: a run's two users, the goroutine reading
	// the input (See) and the one queueing results (takeDone), both
	// write, each call holds it for one probe, and an RWMutex's write
	// lock costs twice the atomic operations of a Mutex's, each of them
	// a cache line passed between the two cores (issue 15).
	mu sync.Mutex
	// The set is an open-addressed table with linear probing rather than a
	// map[uint64]uint32: Go's maps cost 12 bytes a slot plus control bytes
	// and grow all their tables at about the same moment, so a million
	// entries measure 25 to 39 bytes each, too near the 40-byte budget the
	// runner promises (DESIGN.md, performance targets). This table is
	// 12 bytes a slot and never fuller than 80%, where linear probing still
	// finds a key within one or two cache lines.
	hashes []uint64 // 0 marks an empty slot; idHash never returns 0
	lines  []uint32 // lines[i] belongs to hashes[i]; 0 means unknown
	n      int
	free   func() // releases hashes and lines when they live off the heap
	// fps[i] is the request fingerprint (32 bits of it) the results file
	// recorded for hashes[i], 0 when none (index_fp.go). It is nil until
	// the first one is stored, so a run that resumes nothing pays nothing.
	fps    []uint32
	freeFP func()
	redone int // ids Redo marked not done (compact.go)
}

// indexMinSlots is the table size of the first Add; a power of two.
const indexMinSlots = 64

// NewIndex returns an empty index. It is the same as new(Index).
func NewIndex() *Index { return new(Index) }

// Add puts id in the index with the line it was seen on (1-based; 0 or a
// line above 2³¹-1 is stored as unknown). It reports whether id was new;
// when it was not, firstLine is the line id was first added with (0 when
// unknown, as for ids read back from a results file) and the index is
// unchanged.
func (x *Index) Add(id string, line int) (firstLine int, added bool) {
	return x.addHash(idHash(id), line)
}

// Has reports whether id is in the index (or, with the probability in the
// type's comment, an id with the same hash is).
func (x *Index) Has(id string) bool {
	return x.hasHash(idHash(id))
}

// Len returns the number of ids in the index.
func (x *Index) Len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.n
}

func (x *Index) hasHash(h uint64) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.n == 0 {
		return false
	}
	_, found := x.slot(h)
	return found
}

func (x *Index) addHash(h uint64, line int) (firstLine int, added bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.n > 0 {
		if i, found := x.slot(h); found {
			return int(x.lines[i] & lineMask), false
		}
	}
	var stored uint32
	if line > 0 && line <= lineMask {
		stored = uint32(line)
	}
	x.insertLocked(h, stored) // grows before the table passes 80% full
	return int(stored), true
}

// slot returns the slot holding h, or the empty slot where h would go.
// The table must not be empty.
func (x *Index) slot(h uint64) (i int, found bool) {
	mask := uint64(len(x.hashes) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch x.hashes[i] {
		case h:
			return int(i), true
		case 0:
			return int(i), false
		}
	}
}

func (x *Index) grow() {
	size := indexMinSlots
	if len(x.hashes) > 0 {
		size = 2 * len(x.hashes)
	}
	old, oldLines, freeOld := x.hashes, x.lines, x.free
	oldFPs, freeOldFPs := x.fps, x.freeFP
	x.hashes, x.lines, x.free = allocSlots(size)
	if oldFPs != nil {
		x.fps, x.freeFP = allocWords(size)
	}
	for j, h := range old {
		if h != 0 {
			i, _ := x.slot(h)
			x.hashes[i], x.lines[i] = h, oldLines[j]
			if oldFPs != nil {
				x.fps[i] = oldFPs[j]
			}
		}
	}
	if freeOld != nil {
		freeOld()
	}
	if freeOldFPs != nil {
		freeOldFPs()
	}
}

// idHash is FNV-1a 64 of id, then the finalizer of MurmurHash3 (fmix64).
// FNV-1a alone leaves ids that differ in their last bytes (item-1, item-2)
// with nearby low bits, which would cluster in a linearly probed table;
// fmix64 is a bijection, so it spreads them without adding collisions.
func idHash(id string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	if h == 0 {
		// 0 marks empty slots; folding it onto 1 doubles the odds of one
		// hash value out of 2⁶⁴.
		h = 1
	}
	return h
}
