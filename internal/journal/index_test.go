package journal

import (
	"runtime"
	"strconv"
	"testing"
)

func TestIDIndexAdd(t *testing.T) {
	x := NewIndex()
	steps := []struct {
		id            string
		line          int
		wantFirstLine int
		wantAdded     bool
	}{
		{"a", 1, 1, true},
		{"b", 2, 2, true},
		{"a", 3, 1, false},
		{"", 4, 4, true}, // the empty id is an id like any other
		{"c", 0, 0, true},
		{"c", 5, 0, false}, // first seen with an unknown line
		{"d", -1, 0, true},
		{"b", 6, 2, false},
	}
	for _, s := range steps {
		gotLine, gotAdded := x.Add(s.id, s.line)
		if gotLine != s.wantFirstLine || gotAdded != s.wantAdded {
			t.Errorf("Add(%q, %d) = %d, %v; want %d, %v", s.id, s.line, gotLine, gotAdded, s.wantFirstLine, s.wantAdded)
		}
	}
	if got, want := x.Len(), 5; got != want {
		t.Errorf("Len() = %d; want %d", got, want)
	}
	for _, id := range []string{"a", "b", "", "c", "d"} {
		if !x.Has(id) {
			t.Errorf("Has(%q) = false; want true", id)
		}
	}
	if x.Has("e") {
		t.Errorf("Has(%q) = true; want false", "e")
	}
}

func TestIDIndexZeroValue(t *testing.T) {
	var x Index
	if x.Has("a") || x.Len() != 0 {
		t.Fatalf("empty zero value: Has = %v, Len = %d; want false, 0", x.Has("a"), x.Len())
	}
	if _, added := x.Add("a", 1); !added {
		t.Fatalf("Add on the zero value: added = false; want true")
	}
	if !x.Has("a") {
		t.Fatalf("Has after Add = false; want true")
	}
}

func TestIDIndexLineOutOfRange(t *testing.T) {
	if strconv.IntSize < 64 {
		t.Skip("int cannot hold a line above 2³¹-1")
	}
	x := NewIndex()
	// The top bit of a stored line marks an id as done, so lines up to
	// 2³¹-1 are kept and larger ones are stored as unknown.
	if got, _ := x.Add("a", lineMask+1); got != 0 {
		t.Errorf("Add(a, 2³¹) firstLine = %d; want 0 (unknown)", got)
	}
	if got, _ := x.Add("b", lineMask); got != lineMask {
		t.Errorf("Add(b, 2³¹-1) firstLine = %d; want %d", got, lineMask)
	}
	if _, added := x.Add("b", 5); added {
		t.Error("Add(b) twice added it twice")
	}
}

func TestIDIndexSee(t *testing.T) {
	x := NewIndex()
	x.takeDone(idHash("old")) // from an earlier run's results
	tests := []struct {
		id        string
		line      int
		want      Sighting
		wantFirst int
	}{
		{"a", 1, SightNew, 0},
		{"old", 2, SightResumed, 0},
		{"a", 3, SightRepeated, 1},
		{"old", 4, SightRepeated, 2}, // repeated after being skipped as done
		{"b", 5, SightNew, 0},
	}
	for _, tt := range tests {
		got, first := x.See(tt.id, tt.line)
		if got != tt.want || first != tt.wantFirst {
			t.Errorf("See(%q, %d) = %v, %d; want %v, %d", tt.id, tt.line, got, first, tt.want, tt.wantFirst)
		}
	}
	x.takeDone(idHash("a")) // succeeded in this run
	if !x.isDone(idHash("a")) || x.isDone(idHash("b")) {
		t.Error("isDone wrong after takeDone")
	}
	if got, first := x.See("a", 9); got != SightRepeated || first != 1 {
		t.Errorf("See(a) after it succeeded = %v, %d; want repeated, first on 1", got, first)
	}
}

// TestIDIndexGrowKeepsLines crosses many table growths and checks every id
// keeps its line.
func TestIDIndexGrowKeepsLines(t *testing.T) {
	x := NewIndex()
	const n = 100_000
	for i := range n {
		if _, added := x.Add("item-"+strconv.Itoa(i), i+1); !added {
			t.Fatalf("Add(item-%d) added = false; want true", i)
		}
	}
	for i := range n {
		got, added := x.Add("item-"+strconv.Itoa(i), 0)
		if added || got != i+1 {
			t.Fatalf("Add(item-%d) again = %d, %v; want %d, false", i, got, added, i+1)
		}
	}
	for i := n; i < 2*n; i++ {
		if x.Has("item-" + strconv.Itoa(i)) {
			t.Fatalf("Has(item-%d) = true; want false", i)
		}
	}
	if got := x.Len(); got != n {
		t.Fatalf("Len() = %d; want %d", got, n)
	}
}

// TestIDIndexMemoryPerID holds the budget of DESIGN.md: an id index of at
// most 40 bytes per item, whatever the ids' lengths.
func TestIDIndexMemoryPerID(t *testing.T) {
	if testing.Short() {
		t.Skip("adds a million ids")
	}
	const n = 1_000_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := NewIndex()
	for i := range n {
		x.Add(uuidLike(i), i+1)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	// Large tables live outside the Go heap (allocSlots): count them by
	// their size, and whatever the heap grew by besides.
	tables := len(x.hashes)*8 + len(x.lines)*4
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	perID := float64(int64(tables)+max(heap, 0)) / n
	t.Logf("Index: %.1f bytes/id for %d ids of 36 bytes (tables %d B, heap growth %d B)", perID, x.Len(), tables, heap)
	if x.Len() != n {
		t.Fatalf("Len() = %d; want %d", x.Len(), n)
	}
	if perID >= 40 {
		t.Errorf("%.1f bytes/id; want under 40", perID)
	}
	runtime.KeepAlive(x)
}

func TestIDIndexReserveKeepsOneTable(t *testing.T) {
	x := NewIndex()
	x.Reserve(100_000)
	slots := len(x.hashes)
	for i := range 100_000 {
		x.Add(uuidLike(i), i+1)
	}
	if len(x.hashes) != slots {
		t.Errorf("the table grew from %d to %d slots after Reserve(100000)", slots, len(x.hashes))
	}
	if slots*4 < 100_000*5 || slots > 4*100_000 {
		t.Errorf("Reserve(100000) made %d slots; want room at 80%% full and no more than needed", slots)
	}
}

// uuidLike returns a distinct 36-byte id shaped like a UUID for each i.
func uuidLike(i int) string {
	const hex = "0123456789abcdef"
	var b [36]byte
	h := [2]uint64{splitmix64(uint64(i)), splitmix64(^uint64(i))}
	k := 0
	for j := range b {
		if j == 8 || j == 13 || j == 18 || j == 23 {
			b[j] = '-'
			continue
		}
		b[j] = hex[h[k/16]>>(4*(k%16))&15]
		k++
	}
	return string(b[:])
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func BenchmarkIDIndexAdd(b *testing.B) {
	ids := make([]string, 1<<16)
	for i := range ids {
		ids[i] = uuidLike(i)
	}
	x := NewIndex()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		x.Add(ids[i&(len(ids)-1)], i)
	}
}
