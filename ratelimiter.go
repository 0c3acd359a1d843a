package sluice

import (
	"context"
	"fmt"
	"math"
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
// Reserve is for callers that schedule their own waiting.
//
// The zero RateLimiter has no limit: it admits everything until SetRate
// gives it one. A RateLimiter is safe for concurrent use.
type RateLimiter struct {
	epoch  time.Time // the limiter's clock reads time.Since(epoch)
	params atomic.Pointer[rateParams]
	tat    atomic.Int64 // nanoseconds since epoch
	mu     sync.Mutex   // serialises SetRate
}

// rateParams is one setting of a RateLimiter. A SetRate replaces it and
// closes changed, so that waiters can move their start times to the new
// pace (see rescale).
type rateParams struct {
	rate     Rate
	burst    int
	interval int64 // nanoseconds per unit; 0: no limit
	tau      int64 // burst tolerance: burst × interval
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
		since: since, changed: make(chan struct{}),
	}
}

// now reads the limiter's clock.
func (l *RateLimiter) now() int64 { return int64(time.Since(l.epoch)) }

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
	p := l.params.Load()
	if p == nil || p.interval == 0 {
		return true
	}
	now := l.now()
	cost := mulSat(int64(n), p.interval)
	for {
		tat := l.tat.Load()
		if tat+min(cost, p.tau)-p.tau > now {
			return false
		}
		if l.tat.CompareAndSwap(tat, max(tat, now)+cost) {
			return true
		}
	}
}

// take is AllowN for a Gate: when refused it says how long to wait.
func (l *RateLimiter) take(c Cost, late time.Duration) (time.Duration, int64) {
	return l.takeN(c.requests(), late)
}

// takeN takes n units as of late ago (at most maxLate).
func (l *RateLimiter) takeN(n int, late time.Duration) (time.Duration, int64) {
	p := l.params.Load()
	if p == nil || p.interval == 0 {
		return 0, 0
	}
	now := l.now() - int64(min(max(late, 0), maxLate))
	cost := mulSat(int64(n), p.interval)
	for {
		tat := l.tat.Load()
		if start := tat + min(cost, p.tau) - p.tau; start > now {
			return time.Duration(start - now), 0
		}
		newTat := max(tat, now) + cost
		if l.tat.CompareAndSwap(tat, newTat) {
			return 0, newTat
		}
	}
}

func (l *RateLimiter) untake(c Cost, mark int64) {
	if p := l.params.Load(); p != nil && p.interval > 0 {
		l.giveBack(mark, mulSat(int64(c.requests()), p.interval))
	}
}

func (l *RateLimiter) done(Cost, time.Time, Outcome) {}

func (l *RateLimiter) changed() <-chan struct{} {
	if p := l.params.Load(); p != nil {
		return p.changed
	}
	return nil // a zero limiter never refuses, so nobody waits on it
}

// giveBack returns the units of a reservation that ended the timeline at
// ourTat. Units reserved after it cannot be moved, so only the part of
// ours that nobody has queued behind is returned: when we are the last,
// all of it.
func (l *RateLimiter) giveBack(ourTat, cost int64) {
	for {
		tat := l.tat.Load()
		back := cost - (tat - ourTat)
		if back <= 0 {
			return
		}
		back = min(back, cost)
		if l.tat.CompareAndSwap(tat, tat-back) {
			return
		}
	}
}

// SetRate changes the rate, keeping the burst. Work already queued is
// re-timed to the new pace: waiters in Wait and outstanding Reservations
// move their start times, in the same order. It panics if r is invalid.
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
	now := l.now()
	np := newRateParams(r, burst, now)
	l.params.Store(np)
	if old == nil {
		return
	}
	for {
		tat := l.tat.Load()
		if l.tat.CompareAndSwap(tat, np.rescale(tat, old)) {
			break
		}
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
	d = math.Max(math.Min(d, math.MaxInt64/4), math.MinInt64/4)
	return p.since + int64(d)
}

// Reserve takes n units now and returns a Reservation saying when they may
// be used. Units not used must be handed back with Cancel. Reserve never
// refuses: a caller that will not wait that long should Cancel.
func (l *RateLimiter) Reserve(n int) *Reservation {
	p := l.params.Load()
	if p == nil || p.interval == 0 {
		return &Reservation{owner: l, n: n, start: noLimit}
	}
	now := l.now()
	cost := mulSat(int64(n), p.interval)
	for {
		tat := l.tat.Load()
		start := max(now, tat+min(cost, p.tau)-p.tau)
		newTat := max(tat, start) + cost
		if l.tat.CompareAndSwap(tat, newTat) {
			return &Reservation{owner: l, n: n, start: start, mark: newTat, cost: cost, params: p}
		}
	}
}

// Wait blocks until n units may start and takes them. When ctx is done
// first it returns ctx.Err() and gives the units back.
func (l *RateLimiter) Wait(ctx context.Context, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.Reserve(n).wait(ctx)
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
	if r.params != nil && r.params.interval > 0 {
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

// mulSat returns a×b for non-negative a and b, saturating instead of
// overflowing.
func mulSat(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/4/a {
		return math.MaxInt64 / 4
	}
	return a * b
}
