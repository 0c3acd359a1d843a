package sluice

import "container/list"

// A waiter is one blocked caller in a waitQueue.
type waiter struct {
	priority int
	n        int           // what it asks for (Semaphore weight)
	ready    chan struct{} // Semaphore: closed on grant; Gate: a wake-up, buffered 1
	elem     *list.Element
}

// waitQueue orders waiters by priority, highest first, and by arrival
// within a priority. It is not safe for concurrent use: its owner's mutex
// guards it.
type waitQueue struct {
	l list.List
}

// push adds w behind every waiter of the same or higher priority. Scanning
// from the back makes the common case, one priority, O(1).
func (q *waitQueue) push(w *waiter) {
	for e := q.l.Back(); e != nil; e = e.Prev() {
		if e.Value.(*waiter).priority >= w.priority {
			w.elem = q.l.InsertAfter(w, e)
			return
		}
	}
	w.elem = q.l.PushFront(w)
}

// remove takes w out of the queue; it reports whether w was at the front.
func (q *waitQueue) remove(w *waiter) (wasFront bool) {
	if w.elem == nil {
		return false
	}
	wasFront = q.l.Front() == w.elem
	q.l.Remove(w.elem)
	w.elem = nil
	return wasFront
}

// front returns the first waiter, or nil.
func (q *waitQueue) front() *waiter {
	if e := q.l.Front(); e != nil {
		return e.Value.(*waiter)
	}
	return nil
}

// len returns the number of waiters.
func (q *waitQueue) len() int { return q.l.Len() }
