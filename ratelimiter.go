package sluice

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// RateLimiter paces starts to a Rate using GCRA, the generic cell rate
// algorithm: a token bucket kept as one number, the theoretical arrival
// time (TAT) of the next unit.
//
// With burst 1, the default, starts are spread evenly, one Interval apart,
// so no window of the rate's period ever holds more than N starts. A burst
// b > 1 lets up to b units start at once after a quiet spell, as a token
// bucket of capacity b would. A weighted request larger than the burst is
// admitted when the bucket is full and leaves a debt that delays what
// follows; it never waits forever.
//
// Allow and AllowN read the clock once and update the state with one
// compare-and-swap: no lock, no allocation. Wait is what most callers want;
// Reserve is for callers that schedule their own waiting. A weight of zero
// or less asks for nothing and is admitted at once.
//
// Through a Gate, which forgives its timer's lag (see Limit), a start may
// come up to 2ms (maxLate) sooner after the one before it than Interval,
// but at burst 1 no window is compressed: once it has forgiven lag, the
// limiter remembers its last window's starts (a ring, ratering.go) and
// starts no unit sooner than N intervals after the unit N before it, so
// any N+1 starts span at least N intervals, the period, as when nothing
// lags. (A window longer than a second is held a second's count at a
// time, see ringSize.) The lag costs no throughput unless the ring holds
// a start back, and then about one timer's lag a window. Limits.NewGate's
// margin (apiSafe) is thus left whole to the network. A burst above 1
// keeps no ring: any window of length D then holds at most as many
// starts as the limiter admits in D + 2ms.
//
// The zero RateLimiter has no limit: it admits everything until SetRate
// gives it one. A RateLimiter is safe for concurrent use.
type RateLimiter struct {
	// Read by every take and written only by SetRate. They come first,
	// and the words every take writes last, so that a TokenBudget can
	// put them on different cache lines (see there): on another core, a
	// read of a line just written waits for the writer's copy.
	params atomic.Pointer[rateParams]
	epoch  time.Time  // the limiter's clock reads time.Since(epoch)
	mu     sync.Mutex // serialises SetRate
	// ring is made by the first take that forgives lag at a burst-1
	// setting, and read by every take after it (ratering.go).
	ring atomic.Pointer[lagRing]

	tat atomic.Int64 // nanoseconds since epoch; frozenTat during a SetRate
	// clips counts the changes to tat that a give-back cannot see
	// through (see untake). It is bumped before the change is published.
	clips atomic.Uint64
}

// Bounds of the timeline. Costs and burst tolerances are at most maxSpan
// (mulSat) and the timeline stays within about ±tatMax, so no sum of the
// two overflows: a huge weight or a rate of one per century saturates
// instead of wrapping round to admit everything.
const (
	maxSpan   = math.MaxInt64 / 4 // 73 years
	tatMax    = math.MaxInt64 / 2
	frozenTat = math.MinInt64
)

// rateParams is one setting of a RateLimiter. A SetRate replaces it and
// closes changed, so that waiters can move their start times to the new
// pace (see rescale).
type rateParams struct {
	rate     Rate
	burst    int
	interval int64 // nanoseconds per unit; 0: no limit
	tau      int64 // burst tolerance: burst × interval
	ringK    int64 // ring length (ringSize); 0: this setting keeps none
	since    int64 // when this setting took effect, limiter clock
	next     *rateParams
	changed  chan struct{}
}

// NewRateLimiter returns a RateLimiter pacing starts to r with the given
// burst (values below 1 mean 1). The zero Rate means no limit. It panics if
// r is invalid; ParseRate validates rates from users.
func NewRateLimiter(r Rate, burst int) *RateLimiter {
	l := &RateLimiter{epoch: time.Now()}
	l.params.Store(newRateParams(r, burst, 0))
	return l
}

func newRateParams(r Rate, burst int, since int64) *rateParams {
	if err := r.validate(); err != nil {
		panic(err)
	}
	burst = max(burst, 1)
	iv := int64(r.Interval())
	return &rateParams{
		rate: r, burst: burst, interval: iv, tau: mulSat(int64(burst), iv),
		ringK: ringSize(r, burst), since: since, changed: make(chan struct{}),
	}
}

// now reads the limiter's clock.
func (l *RateLimiter) now() int64 { return int64(time.Since(l.epoch)) }

// at is t on the limiter's clock, or the clock read now when t is zero.
// A t read before a SetRate restarted a zero limiter's clock is read as
// that start.
func (l *RateLimiter) at(t time.Time) int64 {
	if t.IsZero() {
		return l.now()
	}
	return max(int64(t.Sub(l.epoch)), 0)
}

// load returns the timeline and the setting it is measured in, read in
// that order: a SetRate freezes the timeline before it publishes a new
// setting and thaws it re-timed after, so a compare-and-swap from the tat
// returned succeeds only if the setting returned is still current.
func (l *RateLimiter) load() (int64, *rateParams) {
	for {
		if tat := l.tat.Load(); tat != frozenTat {
			return tat, l.params.Load()
		}
		runtime.Gosched() // a SetRate is between two stores
	}
}

// advance returns the timeline after cost more units from max(tat, from),
// saturated at tatMax. A change that clipped tat up to from, or
// saturated, loses what was charged before it; it is counted in clips
// (before the caller publishes it) so that untake can tell.
func (l *RateLimiter) advance(tat, from, cost int64) int64 {
	next := max(tat, from) + cost
	if tat < from || next > tatMax {
		l.clips.Add(1)
	}
	return min(next, tatMax)
}

// Rate returns the current rate; the zero Rate means no limit.
func (l *RateLimiter) Rate() Rate {
	if p := l.params.Load(); p != nil {
		return p.rate
	}
	return Rate{}
}

// Burst returns the burst, 1 unless set otherwise.
func (l *RateLimiter) Burst() int {
	if p := l.params.Load(); p != nil {
		return p.burst
	}
	return 1
}

// Allow reports whether one unit may start now, and takes it if so.
func (l *RateLimiter) Allow() bool { return l.AllowN(1) }

// AllowN reports whether n units may start now, and takes them if so.
func (l *RateLimiter) AllowN(n int) bool {
	if n <= 0 {
		return true
	}
	wait, _ := l.takeN(n, time.Time{}, 0)
	return wait == 0
}

// Take is AllowN for a Gate, at now: when refused it says how long to
// wait.
func (l *RateLimiter) Take(c Cost, now time.Time, late time.Duration) (time.Duration, int64) {
	return l.takeN(c.requests(), now, late)
}

// takeN takes n > 0 units at now (the zero Time: the clock now) as of late
// before it (at most maxLate). Its mark is the count of clips after the
// take, for untake.
func (l *RateLimiter) takeN(n int, now time.Time, late time.Duration) (time.Duration, int64) {
	lag := int64(min(max(late, 0), maxLate))
	real := int64(-1) // read once, after the first load: a zero limiter has no clock yet
	for {
		// The setting is read with the timeline, inside the loop: a cost
		// worked out before a SetRate would be charged at the old pace.
		tat, p := l.load()
		if p == nil || p.interval == 0 {
			return 0, int64(l.clips.Load())
		}
		if real < 0 {
			real = l.at(now)
		}
		cost := mulSat(int64(n), p.interval)
		if start := tat + min(cost, p.tau) - p.tau; start > real {
			// The wait is counted from the real now: counted from the
			// forgiven one, a refused front waiter would sleep its lag
			// again on top.
			return time.Duration(start - real), 0
		}
		// A take that forgives lag at a burst-1 setting, and every take
		// once one has, goes by the ring (ratering.go); its pointer is
		// read after the timeline, so that a take racing the ring's
		// first either sees it or loses the compare-and-swap to it.
		if p.ringK > 0 && (lag > 0 && tat < real || l.ring.Load() != nil) {
			return l.takeRing(n, real, lag)
		}
		newTat := l.advance(tat, real-lag, cost)
		mark := int64(l.clips.Load()) // after advance's own count
		if l.tat.CompareAndSwap(tat, newTat) {
			return 0, mark
		}
	}
}

// Untake gives back exactly what takeN took, so that the limiter is as if
// the take had never been made, even when a limiter shared by gates was
// charged, refunded or re-timed in between. Charges without a clip,
// refunds and SetRate's linear re-timing all shift the timeline by what
// they add, so taking the cost (at the pace now in force, which is what a
// re-timing turned it into) back out is exact. A clip in between (a take
// or settlement from an idle bucket, a change to or from no limit) made
// the timeline forget our charge along with the idle time: then nothing is
// left to give back. Reservations, whose start times are fixed, give back
// with giveBack instead.
func (l *RateLimiter) Untake(c Cost, mark int64) { l.untakeN(c.requests(), mark) }

func (l *RateLimiter) untakeN(n int, mark int64) {
	if mark < 0 {
		l.untakeRing(n, mark)
		return
	}
	for {
		tat, p := l.load()
		if p == nil || p.interval == 0 || int64(l.clips.Load()) != mark {
			return
		}
		if l.tat.CompareAndSwap(tat, tat-mulSat(int64(n), p.interval)) {
			return
		}
	}
}

// timeline returns the limiter's timeline now, for delayTo.
func (l *RateLimiter) timeline() int64 {
	tat, _ := l.load()
	return tat
}

// delayTo moves the timeline on by what it lacked, when timeline returned
// from, of reaching t: as if units ending at t had been taken then, so
// that (at burst 1) the next may start no sooner than t. Charges made
// since stay on top, like a Reserve's: a take that raced the caller is
// not swallowed.
func (l *RateLimiter) delayTo(t time.Time, from int64) {
	if t.IsZero() {
		return
	}
	by := min(l.at(t)-from, maxSpan)
	if by <= 0 {
		return
	}
	for {
		tat, p := l.load()
		if p == nil || p.interval == 0 {
			return
		}
		if l.tat.CompareAndSwap(tat, l.advance(tat, tat, by)) {
			return
		}
	}
}

// Finish implements Limit; a rate has nothing to do when a call ends.
func (l *RateLimiter) Finish(Cost, time.Time, Outcome) {}

// Changed implements Limit: the channel is closed by the next SetRate.
func (l *RateLimiter) Changed() <-chan struct{} {
	if p := l.params.Load(); p != nil {
		return p.changed
	}
	return nil // a zero limiter never refuses, so nobody waits on it
}

// giveBack returns the units of a reservation that ended the timeline at
// ourTat. Units reserved after it cannot be moved, so only the part of
// ours that nobody has queued behind is returned: when we are the last,
// all of it. It returns what it gave back.
func (l *RateLimiter) giveBack(ourTat, cost int64) int64 {
	for {
		tat, _ := l.load()
		back := cost - (tat - ourTat)
		if back <= 0 {
			return 0
		}
		back = min(back, cost)
		if l.tat.CompareAndSwap(tat, tat-back) {
			return back
		}
	}
}

// SetRate changes the rate, keeping the burst. Work already queued is
// re-timed to the new pace: waiters in Wait and outstanding Reservations
// move their start times, in the same order. It panics if r is invalid.
// Concurrent takes wait the few nanoseconds it re-times the timeline, so
// none is charged at the old pace on the new timeline.
func (l *RateLimiter) SetRate(r Rate) { l.setRate(r, 0) }

// setRate changes the rate and, when burst > 0, the burst.
func (l *RateLimiter) setRate(r Rate, burst int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.params.Load()
	if old == nil {
		l.epoch = time.Now() // a zero limiter starts its clock here
	} else if burst <= 0 {
		burst = old.burst
	}
	np := newRateParams(r, burst, 0)
	tat := l.tat.Swap(frozenTat) // only SetRate freezes, under l.mu
	np.since = l.now()
	if old == nil || old.interval == 0 || np.interval == 0 {
		l.clips.Add(1) // to or from no limit: charges are forgotten
	}
	l.params.Store(np)
	newTat := tat
	if old != nil {
		newTat = np.rescale(tat, old)
		if newTat == tat && old.interval > 0 && np.interval > 0 && np.interval != old.interval {
			// Never thaw to the value frozen: a take that read it with
			// the old setting would then swap in a charge at the old
			// pace. A nanosecond's tightening rules that out.
			newTat++
		}
	}
	l.tat.Store(newTat)
	if old == nil {
		return
	}
	old.next = np
	close(old.changed)
}

// rescale maps a time on the old setting's timeline to this one's: the
// part still ahead of the change is stretched or shrunk by the ratio of
// the intervals. Being linear and monotonic, it keeps queued work in order
// and the bucket's fill level in proportion.
func (p *rateParams) rescale(t int64, old *rateParams) int64 {
	switch {
	case old.interval == 0:
		return t // from no limit: the bucket is full
	case p.interval == 0:
		return min(t, p.since) // to no limit: nothing waits
	}
	ratio := float64(p.interval) / float64(old.interval)
	d := float64(t-p.since) * ratio
	d = math.Max(math.Min(d, maxSpan), -maxSpan)
	return min(p.since+int64(d), tatMax)
}

// Reserve takes n units now and returns a Reservation saying when they may
// be used. Units not used must be handed back with Cancel. Reserve never
// refuses: a caller that will not wait that long should Cancel. A weight
// of zero or less takes nothing and may be used at once.
func (l *RateLimiter) Reserve(n int) *Reservation {
	r, _ := l.reserve(n, math.MaxInt64)
	return r
}

// reserve is Reserve that takes nothing and returns false when the units
// would have to wait maxWait or longer.
func (l *RateLimiter) reserve(n int, maxWait int64) (*Reservation, bool) {
	for n > 0 {
		tat, p := l.load()
		if p == nil || p.interval == 0 {
			break
		}
		if p.ringK > 0 && l.ring.Load() != nil {
			return l.reserveRing(n, maxWait)
		}
		now := l.now()
		cost := mulSat(int64(n), p.interval)
		start := max(now, tat+min(cost, p.tau)-p.tau)
		if start > now && start-now >= maxWait {
			return nil, false
		}
		newTat := l.advance(tat, start, cost)
		if l.tat.CompareAndSwap(tat, newTat) {
			return &Reservation{owner: l, n: n, start: start, mark: newTat, cost: cost, params: p}, true
		}
	}
	return &Reservation{owner: l, n: n, start: noLimit}, true
}

// Wait blocks until n units may start and takes them. When ctx is done
// first it returns ctx.Err() and gives the units back. When ctx's deadline
// comes before the units could start, it returns ErrWouldExceedDeadline
// at once and takes nothing.
func (l *RateLimiter) Wait(ctx context.Context, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, ok := l.reserve(n, untilDeadline(ctx))
	if !ok {
		return ErrWouldExceedDeadline
	}
	return r.wait(ctx)
}

// untilDeadline returns how long ctx has until its deadline, in
// nanoseconds; math.MaxInt64 when it has none.
func untilDeadline(ctx context.Context) int64 {
	if d, ok := ctx.Deadline(); ok {
		return int64(time.Until(d))
	}
	return math.MaxInt64
}

// follow brings a reservation up to date with every SetRate since it was
// made.
func (l *RateLimiter) follow(r *Reservation) {
	for r.params != nil {
		select {
		case <-r.params.changed:
		default:
			return // next is published only when changed is closed
		}
		np := r.params.next
		if r.start > np.since {
			r.start = np.rescale(r.start, r.params)
		}
		r.mark = np.rescale(r.mark, r.params)
		r.cost = mulSat(int64(r.n), np.interval)
		r.params = np
	}
}

func (l *RateLimiter) cancel(r *Reservation) {
	l.follow(r)
	switch {
	case r.params == nil || r.params.interval == 0:
	case r.ringSeq != 0:
		l.cancelRing(r)
	default:
		l.giveBack(r.mark, r.cost)
	}
}

func (l *RateLimiter) watch(r *Reservation) <-chan struct{} {
	if r.params == nil {
		return nil
	}
	return r.params.changed
}

// String describes the limiter, for logs.
func (l *RateLimiter) String() string {
	return fmt.Sprintf("rate %v burst %d", l.Rate(), l.Burst())
}

// mulSat returns a×b saturated at maxSpan, or 0 when a or b is not
// positive. It multiplies in 128 bits rather than dividing to test for
// overflow: a division costs more than the rest of an admission's take.
func mulSat(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	if hi, lo := bits.Mul64(uint64(a), uint64(b)); hi != 0 || lo > maxSpan {
		return maxSpan
	}
	return a * b
}
