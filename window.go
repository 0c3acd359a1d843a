package sluice

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// SlidingWindow admits at most N units in any window of length Per: the
// exact rule that strict APIs enforce ("100 requests per 10 seconds",
// counted over a window that slides). Unlike a RateLimiter it does not
// spread starts: a quiet window lets N start at once. Pair it with a
// RateLimiter in a Gate for even spacing under a strict quota.
//
// It remembers every start in the last window, so it costs 16 bytes per
// start in a window (at most N entries). A weighted request larger than N
// is admitted when the window is empty, so it never waits forever, and
// counts as N; through a Gate it is refused at once (ErrTooLarge). A
// weight of zero or less asks for nothing and is admitted at once.
//
// The rule holds at the times calls really start, also through a Gate: a
// SlidingWindow records when each start really happened and forgives no
// timer lag (see Limit), unlike a RateLimiter. A lagging timer therefore
// costs a window's starts that lag, once per window.
//
// Through a Transport, a call starts when its request has left, not when
// it is admitted: a new connection's dial and TLS handshake come between,
// 60-100 ms or more, and a window counting from admission let a second
// window's calls, sent at once on warm connections, reach the API inside
// the first window's (outside reviews: all 20 of the second second's
// calls refused). So a call admitted by a Transport counts in every
// window until its request has been written, and from then on at that
// time (transport_sent.go); a call never reported written counts from
// its response (or its end, when it has none). A Reservation taken
// meanwhile counts such calls as leaving now.
//
// The zero SlidingWindow has no limit. A SlidingWindow is safe for
// concurrent use; each call costs one mutex round trip.
type SlidingWindow struct {
	mu      sync.Mutex
	epoch   time.Time
	limit   int   // N; 0: no limit
	window  int64 // nanoseconds
	entries []windowEntry
	head    int // entries[head:] are live, oldest first
	sum     int // units in entries[head:], and pending
	// pending is units admitted through a Transport whose request has not
	// left yet (see sent): they count in every window until it has, and
	// are in no entry.
	pending int
	change  chan struct{}
}

// pendingMark is the mark of units taken pending (Take of an unsent
// Cost): no entry holds them. Real marks are times since the epoch, never
// negative.
const pendingMark = math.MinInt64

// windowEntry is units started (or reserved to start) at one time.
type windowEntry struct {
	t int64 // window clock
	n int
}

// NewSlidingWindow returns a SlidingWindow admitting at most r.N units in
// any window of r.Per. r.N is rounded down to a whole number and must be at
// least 1; it panics otherwise. The zero Rate means no limit.
func NewSlidingWindow(r Rate) *SlidingWindow {
	if err := r.validate(); err != nil {
		panic(err)
	}
	if r.IsZero() {
		return &SlidingWindow{}
	}
	n := math.Floor(r.N)
	if n < 1 || n > math.MaxInt32 {
		panic(fmt.Sprintf("sluice: sliding window of %v: count must be a whole number from 1 to %d", r, math.MaxInt32))
	}
	return &SlidingWindow{epoch: time.Now(), limit: int(n), window: int64(r.Per)}
}

func (w *SlidingWindow) now() int64 { return int64(time.Since(w.epoch)) }

// Rate returns the window's limit as a Rate.
func (w *SlidingWindow) Rate() Rate {
	if w.limit == 0 {
		return Rate{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return Rate{N: float64(w.limit), Per: time.Duration(w.window)}
}

// setWindow sets the window's length to per, keeping its count: a gate
// widens the margin of a window given as Limits after its 429s
// (margin.go). Units already started count over the new length.
func (w *SlidingWindow) setWindow(per time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.window = int64(per) // longer only: no waiter may start sooner, none to wake
}

// Allow reports whether one unit may start now, and takes it if so.
func (w *SlidingWindow) Allow() bool { return w.AllowN(1) }

// AllowN reports whether n units may start now, and takes them if so.
func (w *SlidingWindow) AllowN(n int) bool {
	if n <= 0 {
		return true
	}
	wait, _ := w.takeN(n, false)
	return wait == 0
}

// Reserve takes n units at the earliest time they fit and returns a
// Reservation saying when that is.
func (w *SlidingWindow) Reserve(n int) *Reservation {
	r, _ := w.reserve(n, math.MaxInt64)
	return r
}

// reserve is Reserve that takes nothing and returns false when the units
// would have to wait maxWait or longer.
func (w *SlidingWindow) reserve(n int, maxWait int64) (*Reservation, bool) {
	if w.limit == 0 || n <= 0 {
		return &Reservation{owner: w, n: n, start: noLimit}, true
	}
	n = min(n, w.limit) // a start of N or more runs alone: that is all it needs
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	s := w.earliest(n, now)
	if s > now && s-now >= maxWait {
		return nil, false
	}
	w.add(s, n)
	return &Reservation{owner: w, n: n, start: s, mark: s}, true
}

// Wait blocks until n units may start and takes them. When ctx is done
// first it returns ctx.Err() and gives the units back. When ctx's deadline
// comes before the units could start, it returns ErrWouldExceedDeadline at
// once and takes nothing.
func (w *SlidingWindow) Wait(ctx context.Context, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, ok := w.reserve(n, untilDeadline(ctx))
	if !ok {
		return ErrWouldExceedDeadline
	}
	return r.wait(ctx)
}

// Count returns the units started in the window ending now, together with
// those reserved for later.
func (w *SlidingWindow) Count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.prune(w.now())
	return w.sum
}

// takeN takes n > 0 units now. The mark is the start recorded, or
// pendingMark for units taken pending, to be dated by sent.
func (w *SlidingWindow) takeN(n int, pending bool) (time.Duration, int64) {
	if w.limit == 0 {
		return 0, 0
	}
	n = min(n, w.limit)
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if s := w.earliest(n, now); s > now {
		return time.Duration(s - now), 0
	}
	if pending {
		w.pending += n
		w.sum += n
		return 0, pendingMark
	}
	w.add(now, n)
	return 0, now
}

// earliest returns the first time from now on at which n more units fit.
// Starts are kept in time order, so checking the one window that ends at
// the new start is exact: later windows hold fewer of the old starts.
//
// Pending units count in every window: they will be dated at now or
// later, so they leave at now+W at the earliest. That is a lower bound,
// which is all a wait needs: a waiter that wakes then checks again, and a
// pending unit dated meanwhile only ever leaves later. w.mu is held.
func (w *SlidingWindow) earliest(n int, now int64) int64 {
	w.prune(now)
	s := now
	if len(w.entries) > w.head {
		s = max(s, w.entries[len(w.entries)-1].t)
	}
	mustLeave := w.sum + n - w.limit
	if n > w.limit {
		mustLeave = w.sum // oversize: runs in an empty window
	}
	pending := w.pending // in time order, they come before the starts reserved after now
	for _, e := range w.entries[w.head:] {
		if mustLeave <= 0 {
			break
		}
		if pending > 0 && e.t > now {
			mustLeave -= pending
			s = max(s, now+w.window)
			pending = 0
			if mustLeave <= 0 {
				break
			}
		}
		mustLeave -= e.n
		s = max(s, e.t+w.window)
	}
	if mustLeave > 0 && pending > 0 {
		s = max(s, now+w.window)
	}
	return s
}

// prune forgets starts that have left the window ending at now: a start at
// t counts in the windows (u-W, u] with t > u-W. w.mu is held.
func (w *SlidingWindow) prune(now int64) {
	for w.head < len(w.entries) && w.entries[w.head].t <= now-w.window {
		w.sum -= w.entries[w.head].n
		w.head++
	}
	if w.head > 32 && w.head*2 >= len(w.entries) {
		w.entries = w.entries[:copy(w.entries, w.entries[w.head:])]
		w.head = 0
	}
}

// add records n units starting at t, which is no earlier than any entry.
// w.mu is held.
func (w *SlidingWindow) add(t int64, n int) {
	if last := len(w.entries) - 1; last >= w.head && w.entries[last].t == t {
		w.entries[last].n += n
	} else {
		w.entries = append(w.entries, windowEntry{t: t, n: n})
	}
	w.sum += n
}

// insert records n units starting at t, which may be earlier than starts
// reserved for later: it keeps the entries in time order. w.mu is held.
func (w *SlidingWindow) insert(t int64, n int) {
	i := len(w.entries)
	for i > w.head && w.entries[i-1].t > t {
		i--
	}
	if i > w.head && w.entries[i-1].t == t {
		w.entries[i-1].n += n
	} else {
		w.entries = slices.Insert(w.entries, i, windowEntry{t: t, n: n})
	}
	w.sum += n
}

// sent dates units that c took pending (see takeN) at now, when the call's
// request has left. Dating a unit only ever makes it leave later than
// earliest assumed (at now+W at the earliest), so it admits nothing
// sooner and wakes no waiter.
func (w *SlidingWindow) sent(c Cost) {
	if w.limit == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(c.requests(), w.limit, w.pending)
	if n <= 0 {
		return
	}
	w.pending -= n
	w.sum -= n
	w.insert(w.now(), n)
}

// remove takes back n units recorded at t. Removing a start can only
// loosen the windows around it, so it never lets later starts break the
// limit. w.mu is held.
func (w *SlidingWindow) remove(t int64, n int) {
	if t == pendingMark { // no entry holds them
		n = min(n, w.pending)
		w.pending -= n
		w.sum -= n
	} else {
		for i := len(w.entries) - 1; i >= w.head; i-- {
			if w.entries[i].t != t {
				continue
			}
			n = min(n, w.entries[i].n)
			w.entries[i].n -= n
			w.sum -= n
			if w.entries[i].n == 0 {
				w.entries = append(w.entries[:i], w.entries[i+1:]...)
			}
			break
		}
	}
	if w.change != nil {
		close(w.change)
		w.change = nil
	}
}

// Take ignores late and now: the window records real starts (see
// SlidingWindow), read from its own clock under its lock, so that starts
// from several gates are recorded in order. Back-dating a start by the
// timer's lag let the next window open that much early, and put N+1
// starts in windows of real time. A call a Transport admits (c.unsent) is
// taken pending, and dated when its request has left (sent).
func (w *SlidingWindow) Take(c Cost, _ time.Time, _ time.Duration) (time.Duration, int64) {
	return w.takeN(c.requests(), c.unsent)
}

// Untake implements Limit: it gives back what Take took.
func (w *SlidingWindow) Untake(c Cost, mark int64) {
	if w.limit == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.remove(mark, min(c.requests(), w.limit))
}

// Finish implements Limit; a window has nothing to do when a call ends.
func (w *SlidingWindow) Finish(Cost, time.Time, Outcome) {}

// Changed implements Limit: the channel is closed by the next give-back.
func (w *SlidingWindow) Changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.change == nil {
		w.change = make(chan struct{})
	}
	return w.change
}

func (w *SlidingWindow) follow(*Reservation) {}

func (w *SlidingWindow) cancel(r *Reservation) { w.Untake(Cost{Requests: r.n}, r.mark) }

func (w *SlidingWindow) watch(*Reservation) <-chan struct{} { return nil }

// String describes the window, for logs.
func (w *SlidingWindow) String() string { return fmt.Sprintf("window %v", w.Rate()) }
