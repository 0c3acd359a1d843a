package sluice

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestWaitQueueMatchesAModel pushes and removes waiters at random and
// checks the queue against a sorted slice: priority first, then arrival.
func TestWaitQueueMatchesAModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var q waitQueue
	var model []*waiter
	for step := range 20000 {
		if len(model) > 0 && r.IntN(2) == 0 {
			i := r.IntN(len(model))
			w := model[i]
			if got, want := q.remove(w), i == 0; got != want {
				t.Fatalf("step %d: remove reported front %v, want %v", step, got, want)
			}
			if q.remove(w) {
				t.Fatalf("step %d: removing twice reported the front", step)
			}
			model = slices.Delete(model, i, i+1)
		} else {
			w := &waiter{priority: r.IntN(3)}
			q.push(w)
			at := len(model)
			for at > 0 && model[at-1].priority < w.priority {
				at--
			}
			model = slices.Insert(model, at, w)
		}
		var got []*waiter
		for w := q.front(); w != nil; w = w.next {
			got = append(got, w)
		}
		if !slices.Equal(got, model) || q.len() != len(model) {
			t.Fatalf("step %d: queue of %d differs from the model of %d", step, q.len(), len(model))
		}
		if len(model) > 0 && q.tail != model[len(model)-1] {
			t.Fatalf("step %d: wrong tail", step)
		}
	}
}
