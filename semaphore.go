package sluice

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Semaphore bounds how many units are held at once: calls in flight,
// connections, bytes of memory. It is weighted (a caller may hold several
// units), fair, and its limit can change at runtime.
//
// Waiters are served by priority (see WithPriority), highest first, and in
// arrival order within a priority. A waiter never jumps the one in front of
// it, even when its own smaller request would fit: letting small requests
// pass would starve large ones. A request larger than the whole limit is
// granted when nothing else is held, so it runs alone rather than waiting
// forever.
//
// The zero Semaphore has no limit: it admits everything and only counts.
// Use NewSemaphore for a bounded one. A Semaphore is safe for concurrent
// use. Acquire and Release cost one mutex round trip when nobody waits.
type Semaphore struct {
	mu      sync.Mutex
	limit   int // 0: no limit
	held    int
	waiters waitQueue
	change  chan struct{} // made on demand; closed on every release
}

// NewSemaphore returns a Semaphore that lets at most limit units be held at
// once. It panics if limit < 1.
func NewSemaphore(limit int) *Semaphore {
	if limit < 1 {
		panic("sluice: semaphore limit must be at least 1")
	}
	return &Semaphore{limit: limit}
}

// Acquire waits until n units are free and takes them. When ctx is done
// first it returns ctx.Err() and the semaphore is left as if it had never
// been called; this holds even when the units are granted at the moment
// ctx ends. The caller's priority comes from ctx (WithPriority).
//
// A weight of 0 takes nothing and is granted at once, even while others
// wait. A negative weight is refused with an error and changes nothing.
func (s *Semaphore) Acquire(ctx context.Context, n int) error {
	if n < 0 {
		return fmt.Errorf("sluice: semaphore weight %d is negative", n)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	prio := PriorityFrom(ctx)
	s.mu.Lock()
	// A caller that would stand at the front of the line takes its units now
	// if they are free: queued, it would wait for a Release that, with room
	// to spare, may never come.
	if f := s.waiters.front(); (f == nil || f.priority < prio) && s.fits(n) {
		s.held += n
		s.mu.Unlock()
		return nil
	}
	w := &waiter{priority: prio, n: n, ready: make(chan struct{})}
	s.waiters.push(w)
	s.mu.Unlock()

	select {
	case <-w.ready:
		// When ctx ended at the moment of the grant, select picked at random.
		// Honour the context either way: give the units back, which may
		// grant those behind us.
		select {
		case <-ctx.Done():
			s.Release(n)
			return ctx.Err()
		default:
			return nil
		}
	case <-ctx.Done():
		s.mu.Lock()
		select {
		case <-w.ready:
			// Granted while we were giving up: give the units back.
			s.held -= n
			s.grant()
		default:
			if s.waiters.remove(w) {
				s.grant() // whoever is now in front may fit
			}
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

// TryAcquire takes n units if they are free and nobody is waiting, and
// reports whether it did. It never blocks. A weight of 0 always succeeds
// and takes nothing; a negative weight fails and changes nothing.
func (s *Semaphore) TryAcquire(n int) bool {
	if n <= 0 {
		return n == 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiters.len() == 0 && s.fits(n) {
		s.held += n
		return true
	}
	return false
}

// Release gives back n units; Release(0) does nothing. Releasing a
// negative weight or more than is held is a bug in the caller: it panics
// and changes nothing.
func (s *Semaphore) Release(n int) {
	if n < 0 {
		panic("sluice: semaphore released a negative weight")
	}
	if n == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > s.held {
		panic("sluice: semaphore released more than held")
	}
	s.held -= n
	s.grant()
}

// SetLimit changes the limit. Shrinking takes nothing from holders: new
// acquisitions wait until enough is released. Growing wakes the waiters
// that now fit. It panics if limit < 1.
func (s *Semaphore) SetLimit(limit int) {
	if limit < 1 {
		panic("sluice: semaphore limit must be at least 1")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = limit
	s.grant()
}

// Limit returns the current limit, 0 for no limit.
func (s *Semaphore) Limit() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limit
}

// Held returns the number of units held now.
func (s *Semaphore) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// Waiting returns the number of callers blocked in Acquire.
func (s *Semaphore) Waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiters.len()
}

// fits reports whether n more units may be held now. s.mu is held.
func (s *Semaphore) fits(n int) bool {
	// n <= limit-held, not held+n <= limit: a huge weight must not wrap
	// around and fit.
	return s.limit == 0 || n <= s.limit-s.held || (n > s.limit && s.held == 0)
}

// grant hands units to waiters in order for as long as the first one fits,
// then tells gates watching this semaphore that something changed. s.mu is
// held.
func (s *Semaphore) grant() {
	for w := s.waiters.front(); w != nil && s.fits(w.n); w = s.waiters.front() {
		s.held += w.n
		s.waiters.remove(w)
		close(w.ready)
	}
	if s.change != nil {
		close(s.change)
		s.change = nil
	}
}

// Take implements Limit: it takes c.Requests units if they are free and
// nobody waits, else asks to wait for a release.
func (s *Semaphore) Take(c Cost, _ time.Time, _ time.Duration) (time.Duration, int64) {
	if s.TryAcquire(c.requests()) {
		return 0, 0
	}
	return waitForChange, 0
}

// Untake implements Limit: it gives back what Take took.
func (s *Semaphore) Untake(c Cost, _ int64) { s.Release(c.requests()) }

// Finish implements Limit: it releases the call's units.
func (s *Semaphore) Finish(c Cost, _ time.Time, _ Outcome) { s.Release(c.requests()) }

// Changed implements Limit: the channel is closed on the next release or
// SetLimit.
func (s *Semaphore) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.change == nil {
		s.change = make(chan struct{})
	}
	return s.change
}
