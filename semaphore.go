package sluice

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
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
// use. While nobody waits and no Gate waits for a change, Acquire,
// TryAcquire and Release cost one compare-and-swap; otherwise one mutex
// round trip.
type Semaphore struct {
	// word is the whole state while it is simple (nobody waits, nobody
	// watches change, limit and held fit in 31 bits): held and limit
	// packed (see packSem), so that the common operations are one
	// compare-and-swap on it, and a swap that succeeds decided on exactly
	// the state it replaced, whatever happened in between. Otherwise it is
	// semSlow and mu guards the state, in the fields below. Only a holder
	// of mu turns word to or from semSlow.
	word atomic.Uint64

	mu      sync.Mutex
	limit   int // 0: no limit; while word is semSlow
	held    int // while word is semSlow
	waiters waitQueue
	change  chan struct{} // made on demand; closed on every release
	// notify holds the channels of gates' waiters to wake on the next
	// release or new limit (notifyOnChange): each is sent to without
	// blocking, then forgotten. The slice is kept for reuse.
	notify []chan struct{}
}

// The packing of Semaphore.word: held in the high 32 bits, the limit in
// bits 1 to 31, bit 0 clear. semSlow, with bit 0 set, says the state is in
// the fields, under the mutex.
const (
	semSlow   uint64 = 1
	semPacked        = 1<<31 - 1 // the most held or limit a packed word holds
)

func packSem(held, limit int) uint64 { return uint64(held)<<32 | uint64(limit)<<1 }

func unpackSem(w uint64) (held, limit int) { return int(w >> 32), int(w>>1) & semPacked }

// NewSemaphore returns a Semaphore that lets at most limit units be held at
// once. It panics if limit < 1.
func NewSemaphore(limit int) *Semaphore {
	if limit < 1 {
		panic("sluice: semaphore limit must be at least 1")
	}
	s := &Semaphore{limit: limit}
	if limit <= semPacked {
		s.word.Store(packSem(0, limit))
	} else {
		s.word.Store(semSlow)
	}
	return s
}

// tryFast takes n > 0 units with one compare-and-swap when the state is
// packed (so nobody waits). It reports whether the state was packed
// (known) and, if so, whether it took them (ok); when not known, the
// caller takes the mutex.
func (s *Semaphore) tryFast(n int) (ok, known bool) {
	_, ok, known = s.tryFastHeld(n)
	return ok, known
}

// tryFastHeld is tryFast, also returning how many units are held once
// it took them (an AdaptiveLimit's peak), without another load.
func (s *Semaphore) tryFastHeld(n int) (now int, ok, known bool) {
	for {
		w := s.word.Load()
		if w == semSlow {
			return 0, false, false
		}
		held, limit := unpackSem(w)
		if !fits(held, limit, n) {
			return 0, false, true
		}
		if n > semPacked-held {
			return 0, false, false // fits, but not in the word: the mutex takes it
		}
		if s.word.CompareAndSwap(w, packSem(held+n, limit)) {
			return held + n, true, true
		}
	}
}

// releaseFast gives back n > 0 units with one compare-and-swap when the
// state is packed (so nobody waits to be granted and nobody watches
// Changed), and reports whether it did.
func (s *Semaphore) releaseFast(n int) bool {
	for {
		w := s.word.Load()
		if w == semSlow {
			return false
		}
		held, limit := unpackSem(w)
		if n > held {
			return false // the mutex path panics, changing nothing
		}
		if s.word.CompareAndSwap(w, packSem(held-n, limit)) {
			return true
		}
	}
}

// lock takes s.mu and moves the state into the fields, so that the fast
// paths keep off it until unlock.
func (s *Semaphore) lock() {
	s.mu.Lock()
	for {
		w := s.word.Load()
		if w == semSlow {
			return
		}
		if s.word.CompareAndSwap(w, semSlow) {
			s.held, s.limit = unpackSem(w)
			return
		}
	}
}

// unlock packs the state back into word when it is simple again, and
// releases s.mu.
func (s *Semaphore) unlock() {
	if s.waiters.len() == 0 && s.change == nil && len(s.notify) == 0 && s.held <= semPacked && s.limit <= semPacked {
		s.word.Store(packSem(s.held, s.limit))
	}
	s.mu.Unlock()
}

// state returns held and limit. s.mu is held (by the caller, or not at
// all while the word is packed, which unlock alone can change back).
func (s *Semaphore) state() (held, limit int) {
	if w := s.word.Load(); w != semSlow {
		return unpackSem(w)
	}
	return s.held, s.limit
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
	if ok, _ := s.tryFast(n); ok {
		return nil
	}
	prio := PriorityFrom(ctx)
	s.lock()
	// A caller that would stand at the front of the line takes its units now
	// if they are free: queued, it would wait for a Release that, with room
	// to spare, may never come.
	if f := s.waiters.front(); (f == nil || f.priority < prio) && fits(s.held, s.limit, n) {
		s.held += n
		s.unlock()
		return nil
	}
	w := &waiter{priority: prio, n: n, ready: make(chan struct{})}
	s.waiters.push(w)
	s.unlock()

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
		s.lock()
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
		s.unlock()
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
	if ok, known := s.tryFast(n); known {
		return ok
	}
	s.lock()
	defer s.unlock()
	if s.waiters.len() == 0 && fits(s.held, s.limit, n) {
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
	if n == 0 || s.releaseFast(n) {
		return
	}
	s.lock()
	defer s.unlock()
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
	s.lock()
	defer s.unlock()
	s.limit = limit
	s.grant()
}

// Limit returns the current limit, 0 for no limit.
func (s *Semaphore) Limit() int {
	if w := s.word.Load(); w != semSlow {
		_, limit := unpackSem(w)
		return limit
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, limit := s.state()
	return limit
}

// Held returns the number of units held now.
func (s *Semaphore) Held() int {
	if w := s.word.Load(); w != semSlow {
		held, _ := unpackSem(w)
		return held
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	held, _ := s.state()
	return held
}

// Waiting returns the number of callers blocked in Acquire.
func (s *Semaphore) Waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiters.len()
}

// fits reports whether n more units may be held with held of limit held.
func fits(held, limit, n int) bool {
	// n <= limit-held, not held+n <= limit: a huge weight must not wrap
	// around and fit.
	return limit == 0 || n <= limit-held || (n > limit && held == 0)
}

// grant hands units to waiters in order for as long as the first one fits,
// then tells gates watching this semaphore that something changed. s.lock
// is held.
func (s *Semaphore) grant() {
	for w := s.waiters.front(); w != nil && fits(s.held, s.limit, w.n); w = s.waiters.front() {
		s.held += w.n
		s.waiters.remove(w)
		close(w.ready)
	}
	if s.change != nil {
		close(s.change)
		s.change = nil
	}
	for i, ch := range s.notify {
		select {
		case ch <- struct{}{}:
		default:
		}
		s.notify[i] = nil
	}
	s.notify = s.notify[:0]
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
	s.lock() // a watched semaphore releases under the mutex, to close change
	defer s.unlock()
	if s.change == nil {
		s.change = make(chan struct{})
	}
	return s.change
}

// notifyOnChange implements changeNotifier: ch is sent to on the next
// release or SetLimit.
func (s *Semaphore) notifyOnChange(ch chan struct{}) {
	s.lock() // a watched semaphore releases under the mutex, to notify
	defer s.unlock()
	s.notify = append(s.notify, ch)
}
