package sluice

import (
	"math"
	"sync"
	"time"
)

// A RateLimiter forgives a take its timer's lag (maxLate, see Limit): the
// unit is charged as of when it was due, so that lag does not add up call
// after call. Forgiven alone, that lag compressed windows: with schedule
// slots T_k and forgiven lateness e_k, N+1 consecutive starts span
// N·Interval + e_k - e_{k-N}, up to maxLate less than the period when the
// unit N before was late and this one is not. bench/cmd/feedback saw it on
// a strict 200/s API: the tightest 201 admissions 4.2 ms over the API's
// second, not apiSafe's 6, and the network took the rest (issue 15).
//
// A burst-1 limiter that has forgiven lag therefore keeps a lagRing: when
// its last K units started, K being the count of one window (or of one
// second of a longer window, see ringSize). A unit may not start before
// the unit K before it started plus K intervals: lateness is inherited
// per phase, e_k ≥ e_{k-K}, never compressing a window below what the
// rigid schedule gives. A unit the ring holds back keeps its slot: its
// wait counts as lag, forgiven up to maxLate in all, so that holding it
// does not shift the whole schedule. The cost is the lag of the wake-ups
// the ring holds back, which no design can forgive without compressing a
// window: about one wake-up's lag a window (simulated at 200/s: 0.011% of
// the time with lags of 100 µs on average, 0.14% with lags spread evenly
// up to 2 ms), where not forgiving at all costs every wake-up's lag.
//
// A ring is made on the first take that forgives lag (Allow, Reserve and
// a Gate with nobody waiting never do), and read under its own mutex; a
// limiter without one, or at a setting without one (burst above 1, see
// ringSize), takes as before, with one compare-and-swap. Its times are
// the clock at each take (a Reserve's start), and for the units of a
// weighted take after its first one interval later each, as the schedule
// has them (they start early by design, a debt paid after). A unit it has
// not seen (taken before the ring was made, or charged by delayTo) started
// at its slot or later and needs no entry. A SetRate empties it: the new
// schedule is rigid from the change on, and one window after it may be
// compressed by up to maxLate, as before the ring.
type lagRing struct {
	mu     sync.Mutex
	params *rateParams // the setting the entries are for
	k      int64       // params.ringK
	buf    []int64     // buf[u % k]: the start of unit u, limiter clock
	seq    int64       // units logged, ever: the next unit's number
	count  int64       // units in buf logged at params: at most k
}

// ringCap bounds a ring's length: 32 KiB a limiter at most. A rate of
// more units per second (a window longer than a second counts per second)
// keeps a ring of the largest divisor of its count down to a quarter of
// ringCap, which holds its windows as exactly (chained), or none.
const ringCap = 4096

// ringSize returns the length of the ring a burst-1 setting of r keeps:
// the count of its window when that is a second or less, else of one
// second of it (a minute's 600 is 10), since APIs enforce long windows in
// slices of a second (see slicedSafe); K+1 starts spanning K intervals
// chains into whole windows that are multiples of K. 0: no ring (burst
// above 1, a rate of less than one unit a window, or a count above
// ringCap with no divisor near it).
func ringSize(r Rate, burst int) int64 {
	if burst != 1 || r.N < 1 || r.Per <= 0 || math.IsInf(r.N, 0) {
		return 0
	}
	n := math.Floor(r.N)
	k := math.Floor(n / max(math.Round(r.Per.Seconds()), 1))
	if k < 1 {
		k = n // slower than a unit a second: the whole window
	}
	if k <= ringCap {
		return int64(k)
	}
	if k > math.MaxInt32 {
		return 0
	}
	for d := int64(ringCap); d >= ringCap/4; d-- {
		if int64(k)%d == 0 {
			return d
		}
	}
	return 0
}

// ringMark packs a ring take's clip count and unit number into a mark
// for Untake; the sign bit tells it from a mark of clips alone. 31 and 32
// bits: an untake comes a moment after its take, not 2^31 clips later.
func ringMark(clips uint64, seq int64) int64 {
	return math.MinInt64 | int64(clips&(1<<31-1))<<32 | int64(uint32(seq))
}

// ringOf returns the limiter's ring, making it if it has none.
func (l *RateLimiter) ringOf() *lagRing {
	if r := l.ring.Load(); r != nil {
		return r
	}
	l.ring.CompareAndSwap(nil, &lagRing{})
	return l.ring.Load()
}

// sync empties the ring when the setting changed. r.mu is held.
func (r *lagRing) sync(p *rateParams) {
	if r.params == p {
		return
	}
	r.params, r.k, r.count = p, p.ringK, 0
	if int64(cap(r.buf)) < r.k {
		r.buf = make([]int64, r.k)
	}
	r.buf = r.buf[:r.k]
}

// due returns the earliest start the ring allows n units from now on:
// unit j of them (at start + j intervals, as the schedule has them) no
// sooner than K intervals after the unit K before it. math.MinInt64 when
// the ring holds none of those units. r.mu is held, r synced.
func (r *lagRing) due(n int, interval int64) int64 {
	due := int64(math.MinInt64)
	span := mulSat(r.k, interval)
	for j := max(0, r.k-r.count); j < min(int64(n), r.k); j++ {
		due = max(due, r.buf[(r.seq+j)%r.k]+span-mulSat(j, interval))
	}
	return due
}

// push logs n units starting at start, one interval apart, and returns
// the number of the unit after them. r.mu is held, r synced.
func (r *lagRing) push(n int, start, interval int64) int64 {
	for j := max(0, int64(n)-r.k); j < int64(n); j++ {
		r.buf[(r.seq+j)%r.k] = min(start+mulSat(j, interval), tatMax)
	}
	r.seq += int64(n)
	r.count = min(r.count+int64(n), r.k)
	return r.seq
}

// pop forgets the last n units when they are the ones logged up to seq
// at p: a take given back. Otherwise they stay, which only holds later
// units back (a give-back that came after other takes). r.mu is held.
func (r *lagRing) pop(n int, seq int64, p *rateParams) {
	if r.params != p || uint32(r.seq) != uint32(seq) || int64(n) > r.count {
		return
	}
	r.seq -= int64(n)
	r.count -= int64(n)
}

// takeRing is takeN for a limiter that keeps a ring (see lagRing): the
// start must also be one the ring allows.
func (l *RateLimiter) takeRing(n int, real, lag int64) (time.Duration, int64) {
	r := l.ringOf()
	r.mu.Lock()
	defer r.mu.Unlock()
	// The start is logged at the clock, not at the caller's now, which
	// may be a descheduled moment old: logged early, it let the unit K
	// after it start that much less than K intervals after it really
	// did. (A now ahead of the clock is a test's, and is believed.)
	clock := max(real, l.now())
	for {
		tat, p := l.load()
		if p == nil || p.interval == 0 {
			return 0, int64(l.clips.Load())
		}
		cost := mulSat(int64(n), p.interval)
		if start := tat + min(cost, p.tau) - p.tau; start > real {
			return time.Duration(start - real), 0
		}
		if p.ringK == 0 { // a SetRate since the caller looked
			newTat := l.advance(tat, real-lag, cost)
			mark := int64(l.clips.Load())
			if l.tat.CompareAndSwap(tat, newTat) {
				return 0, mark
			}
			continue
		}
		r.sync(p)
		due := r.due(n, p.interval)
		if due > clock {
			return time.Duration(due - real), 0 // counted from the caller's now, as every wait
		}
		// A unit the ring held back was told to come at due: its wait
		// past its slot is forgiven with its lag, up to maxLate in all,
		// so that it keeps its slot. Counted from the slot, not tested
		// against due: it reads its lag a moment before real.
		from := real - lag
		if due > tat {
			from -= due - tat
		}
		newTat := l.advance(tat, max(from, real-int64(maxLate)), cost)
		clips := l.clips.Load()
		if l.tat.CompareAndSwap(tat, newTat) {
			return 0, ringMark(clips, r.push(n, clock, p.interval))
		}
	}
}

// untakeRing is untakeN for a mark of takeRing: the units leave the ring
// too, when nothing was logged after them.
func (l *RateLimiter) untakeRing(n int, mark int64) {
	r := l.ringOf()
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		tat, p := l.load()
		if p == nil || p.interval == 0 || l.clips.Load()&(1<<31-1) != uint64(mark>>32)&(1<<31-1) {
			return
		}
		if l.tat.CompareAndSwap(tat, tat-mulSat(int64(n), p.interval)) {
			r.pop(n, mark, p)
			return
		}
	}
}

// reserveRing is reserve for a limiter that keeps a ring: the start is
// one the ring allows, and the units are logged at it.
func (l *RateLimiter) reserveRing(n int, maxWait int64) (*Reservation, bool) {
	r := l.ringOf()
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		tat, p := l.load()
		if p == nil || p.interval == 0 {
			return &Reservation{owner: l, n: n, start: noLimit}, true
		}
		now := l.now()
		cost := mulSat(int64(n), p.interval)
		start := max(now, tat+min(cost, p.tau)-p.tau)
		from := start
		if p.ringK > 0 {
			r.sync(p)
			if due := r.due(n, p.interval); due > start {
				start, from = due, max(tat, due-int64(maxLate)) // as takeRing: held, on schedule
			}
		}
		if start > now && start-now >= maxWait {
			return nil, false
		}
		newTat := l.advance(tat, from, cost)
		if l.tat.CompareAndSwap(tat, newTat) {
			res := &Reservation{owner: l, n: n, start: start, mark: newTat, cost: cost, params: p}
			if p.ringK > 0 {
				res.ringSeq = r.push(n, start, p.interval)
			}
			return res, true
		}
	}
}

// cancelRing is giveBack for a reservation a ring logged: when all its
// units come back (nobody reserved after it), they leave the ring too.
func (l *RateLimiter) cancelRing(res *Reservation) {
	r := l.ringOf()
	r.mu.Lock()
	defer r.mu.Unlock()
	if l.giveBack(res.mark, res.cost) == res.cost {
		r.pop(res.n, res.ringSeq, res.params)
	}
}
