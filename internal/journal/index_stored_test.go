package journal

import "testing"

// TestIndexStoredAndTakeDone: what a destination other than the results
// file does with the index behaves as the journal's own steps: MarkStored
// as a line read back at Open (done, with its fingerprint), TakeDone as
// QueueSucceeded (once per id, Redo giving it back).
func TestIndexStoredAndTakeDone(t *testing.T) {
	x := NewIndex()
	if again := x.MarkStored("a", 0xabc); again {
		t.Error("MarkStored(a) the first time reported it done already")
	}
	if again := x.MarkStored("a", 0xabc); !again {
		t.Error("MarkStored(a) the second time did not report it done already")
	}
	x.MarkStored("old", 0)
	if c := x.Compare("a", 0xabc); c != Unchanged {
		t.Errorf("Compare(a, its fingerprint) = %v, want Unchanged", c)
	}
	if c := x.Compare("a", 0xdef); c != Changed {
		t.Errorf("Compare(a, another) = %v, want Changed", c)
	}
	if c := x.Compare("old", 0xdef); c != Unrecorded {
		t.Errorf("Compare(old, any) = %v, want Unrecorded (stored without a fingerprint)", c)
	}
	if x.TakeDone("a") {
		t.Error("TakeDone(a) took an id stored as done")
	}
	x.Redo("a")
	if !x.TakeDone("a") {
		t.Error("TakeDone(a) after Redo refused it")
	}
	if x.TakeDone("a") {
		t.Error("TakeDone(a) took it twice")
	}
	if sight, _ := x.See("new", 3); sight != SightNew {
		t.Fatalf("See(new) = %v, want SightNew", sight)
	}
	if !x.TakeDone("new") || x.TakeDone("new") {
		t.Error("TakeDone(new): want it taken once, then refused")
	}
	if !x.TakeDone("unseen") || !x.Has("unseen") {
		t.Error("TakeDone of an id the index never saw did not add it")
	}
}
