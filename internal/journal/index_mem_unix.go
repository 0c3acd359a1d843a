//go:build unix

package journal

import (
	"syscall"
	"unsafe"
)

// allocSlots returns zeroed tables of n slots and a function that frees
// them. Large tables are mapped outside the Go heap: they hold no
// pointers, and on the heap the collector would let the heap grow to twice
// the live size before collecting, and the index is nearly all of the
// live heap of a big run, so a million ids would cost twice their 25 bytes.
func allocSlots(n int) ([]uint64, []uint32, func()) {
	if n < largeIndex {
		return make([]uint64, n), make([]uint32, n), func() {}
	}
	hb, err1 := syscall.Mmap(-1, 0, n*8, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	lb, err2 := syscall.Mmap(-1, 0, n*4, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err1 != nil || err2 != nil {
		if err1 == nil {
			syscall.Munmap(hb)
		}
		if err2 == nil {
			syscall.Munmap(lb)
		}
		return make([]uint64, n), make([]uint32, n), func() {}
	}
	hashes := unsafe.Slice((*uint64)(unsafe.Pointer(&hb[0])), n)
	lines := unsafe.Slice((*uint32)(unsafe.Pointer(&lb[0])), n)
	return hashes, lines, func() {
		syscall.Munmap(hb)
		syscall.Munmap(lb)
	}
}

// allocWords is allocSlots for the fingerprint table: n zeroed words, off
// the heap when large, and the function that frees them.
func allocWords(n int) ([]uint32, func()) {
	if n < largeIndex {
		return make([]uint32, n), func() {}
	}
	b, err := syscall.Mmap(-1, 0, n*4, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]uint32, n), func() {}
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&b[0])), n), func() { syscall.Munmap(b) }
}
