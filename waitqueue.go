package sluice

import "time"

// A waiter is one blocked caller in a waitQueue. Its links make the queue
// intrusive: joining the line allocates nothing beyond the waiter itself.
type waiter struct {
	priority int
	turn     time.Duration // its place among waiters of its priority, earliest first (Gate); 0 for all of a Semaphore's
	kept     bool          // turn is an earlier call's, kept (a retry's): it goes before those that joined at that time
	n        int           // what it asks for (Semaphore weight)
	cost     Cost          // what it asks for (Gate)
	ready    chan struct{} // Semaphore: closed on grant; Gate: a wake-up, buffered 1

	prev, next *waiter
	queued     bool
}

// waitQueue orders waiters by priority, highest first, and by arrival
// within a priority. It is not safe for concurrent use: its owner's mutex
// guards it.
type waitQueue struct {
	head, tail *waiter
	n          int
}

// push adds w behind every waiter of higher priority, and of the same
// priority with an earlier turn, or the same turn unless w's is kept.
// Scanning from the back makes the common case, one priority and turns in
// arrival order, O(1).
func (q *waitQueue) push(w *waiter) {
	at := q.tail
	for at != nil && (at.priority < w.priority || at.priority == w.priority && (at.turn > w.turn || at.turn == w.turn && w.kept && !at.kept)) {
		at = at.prev
	}
	w.prev = at // w goes right after at, or first when at is nil
	if at == nil {
		w.next, q.head = q.head, w
	} else {
		w.next, at.next = at.next, w
	}
	if w.next == nil {
		q.tail = w
	} else {
		w.next.prev = w
	}
	w.queued = true
	q.n++
}

// remove takes w out of the queue; it reports whether w was at the front.
func (q *waitQueue) remove(w *waiter) (wasFront bool) {
	if !w.queued {
		return false
	}
	wasFront = q.head == w
	if w.prev == nil {
		q.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		q.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
	q.n--
	return wasFront
}

// front returns the first waiter, or nil.
func (q *waitQueue) front() *waiter { return q.head }

// len returns the number of waiters.
func (q *waitQueue) len() int { return q.n }
