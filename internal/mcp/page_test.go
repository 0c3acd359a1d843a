package mcp

import (
	"slices"
	"testing"
)

// An agent paging filter=ok while the call ran, following next_offset,
// missed some items and read others twice: an item finishing before
// those ahead of it in input order shifted every position after it
// (outside review). A filtered page reads the finished head of the input
// only, so the positions it gives never move, and following next_offset
// reads every item once.
func TestFilteredPagesOfARunningCallReadEachItemOnce(t *testing.T) {
	c := &call{results: make([]result, 6)}
	finish := func(i int, ok bool) { c.results[i] = result{id: itoa(i), finished: true, ok: ok} }
	var read []int
	offset := 0
	next := func() {
		idx, _, n, _ := c.page(offset, 2, "ok")
		read = append(read, idx...)
		if n >= 0 {
			offset = n
		} else {
			offset += len(idx)
		}
	}
	finish(0, true)
	finish(2, true) // ahead of item 1
	finish(5, true)
	next() // item 0; held at 1
	finish(1, true)
	next() // items 1, 2
	finish(3, false)
	finish(4, true)
	next() // items 4, 5
	next() // nothing more
	if want := []int{0, 1, 2, 4, 5}; !slices.Equal(read, want) {
		t.Errorf("paging filter=ok as the items finished read %v, want %v: each ok item once", read, want)
	}
	if _, _, next, held := c.page(0, 10, "ok"); next != -1 || held != -1 {
		t.Errorf("every item finished: next %d, held %d; want -1, -1 (the last page)", next, held)
	}
}
