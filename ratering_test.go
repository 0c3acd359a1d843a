package sluice

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// lagDriver takes units one after another from a RateLimiter the way a
// Gate's front waiter does, on the limiter's clock and with no real
// sleeping: a caller refused for wait comes back wait later plus a lag,
// and says that lag as late; a caller admitted is followed at once by the
// next, which has no lag to forgive.
type lagDriver struct {
	l     *RateLimiter
	now   int64 // limiter clock
	late  int64
	lag   func(held bool) time.Duration // the lag of the next wake-up; held: the wait was the ring's
	n     func() int                    // weight of the next take; nil: 1
	units []int64                       // virtual start of every unit taken (see lagRing)
}

// take takes one call and returns its start, limiter clock.
func (d *lagDriver) take() int64 {
	n := 1
	if d.n != nil {
		n = d.n()
	}
	for {
		tat := d.l.timeline()
		wait, _ := d.l.Take(Cost{Requests: n}, d.l.epoch.Add(time.Duration(d.now)), time.Duration(d.late))
		if wait == 0 {
			iv := int64(d.l.Rate().Interval())
			for j := range n {
				d.units = append(d.units, d.now+int64(j)*iv)
			}
			d.late = 0
			return d.now
		}
		held := d.now+int64(wait) > tat // the schedule alone would have let it start sooner
		lag := int64(d.lag(held))
		d.now += int64(wait) + lag
		d.late = lag
	}
}

// tightest returns the shortest span of k+1 consecutive units.
func tightest(units []int64, k int) int64 {
	best := int64(1 << 62)
	for i := k; i < len(units); i++ {
		best = min(best, units[i]-units[i-k])
	}
	return best
}

// A take forgiven its lag must not let a window's N+1 starts span less
// than N intervals: before the ring, a unit whose phase was late one
// window and on time the next started maxLate early (issue 15: 201
// admissions of a 200/s API in 1.0042 s of apiSafe's 1.006 s).
func TestRateLimiterLagKeepsWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate Rate
		n    int
	}{
		{"given 200/s", apiSafe(PerSecond(200)), 200},
		{"10/100ms", Rate{N: 10, Per: 100 * time.Millisecond}, 10},
		{"3/s", PerSecond(3), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			l := NewRateLimiter(tc.rate, 1)
			d := &lagDriver{l: l, lag: func(bool) time.Duration {
				return time.Duration(rng.Int64N(int64(maxLate) + 1))
			}}
			for range 20 * tc.n {
				d.take()
			}
			span := int64(tc.n) * int64(tc.rate.Interval())
			if got := tightest(d.units, tc.n); got < span || got < int64(tc.rate.Per) {
				t.Fatalf("tightest %d consecutive starts span %v, want at least %v (the period %v)",
					tc.n+1, time.Duration(got), time.Duration(span), tc.rate.Per)
			}
		})
	}
}

// The ring holds starts back only as much as the lateness it inherits:
// with every schedule wake-up late by up to maxLate, M starts take no
// longer than M intervals plus maxLate (the ring's own waits woken on
// time), and when those waits lag too, a timer's lag a window at most.
func TestRateLimiterLagKeepsThroughput(t *testing.T) {
	r := apiSafe(PerSecond(200))
	iv := int64(r.Interval())
	const m = 4000 // 20 windows
	for _, tc := range []struct {
		name    string
		heldLag bool
		most    int64
	}{
		{"ring waits on time", false, int64(maxLate)},
		{"ring waits lag", true, m / 200 * int64(maxLate)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			d := &lagDriver{l: NewRateLimiter(r, 1), lag: func(held bool) time.Duration {
				if held && !tc.heldLag {
					return 0
				}
				return time.Duration(rng.Int64N(int64(maxLate) + 1))
			}}
			first := d.take()
			for range m - 1 {
				d.take()
			}
			took := d.units[len(d.units)-1] - first
			if over := took - (m-1)*iv; over > tc.most {
				t.Errorf("%d starts took %v, %v over the schedule's %v; want at most %v over",
					m, time.Duration(took), time.Duration(over), time.Duration((m-1)*iv), time.Duration(tc.most))
			} else {
				t.Logf("%d starts took %v over the schedule's %v", m, time.Duration(over), time.Duration((m-1)*iv))
			}
		})
	}
}

// A weighted take's units stand one interval apart in the ring, as the
// schedule has them (the units after its first start early by design, a
// debt paid after): lag must not compress those windows either.
func TestRateLimiterLagKeepsWindowWeighted(t *testing.T) {
	r := Rate{N: 20, Per: 100 * time.Millisecond}
	rng := rand.New(rand.NewPCG(5, 6))
	d := &lagDriver{l: NewRateLimiter(r, 1),
		lag: func(bool) time.Duration { return time.Duration(rng.Int64N(int64(maxLate) + 1)) },
		n:   func() int { return 1 + rng.IntN(3) },
	}
	for range 400 {
		d.take()
	}
	if got, want := tightest(d.units, 20), 20*int64(r.Interval()); got < want {
		t.Fatalf("tightest 21 units span %v, want at least %v", time.Duration(got), time.Duration(want))
	}
}

func TestRingSize(t *testing.T) {
	for _, tc := range []struct {
		r     Rate
		burst int
		want  int64
	}{
		{apiSafe(PerSecond(200)), 1, 200},
		{slicedSafe(apiSafe(PerMinute(600))), 1, 10}, // a second's slice of the minute
		{PerMinute(600), 1, 10},
		{Rate{N: 5, Per: 10 * time.Second}, 1, 5}, // slower than one a second: the window
		{Rate{N: 10, Per: 100 * time.Millisecond}, 1, 10},
		{PerSecond(10000), 1, 2500}, // the largest divisor within ringCap: chains into the window
		{PerSecond(4099), 1, 0},     // a prime: none
		{PerSecond(200), 2, 0},      // bursts: none
		{Rate{N: 0.5, Per: time.Second}, 1, 0},
		{Rate{N: 2.7, Per: time.Second}, 1, 2},
	} {
		if got := ringSize(tc.r, tc.burst); got != tc.want {
			t.Errorf("ringSize(%v, %d) = %d, want %d", tc.r, tc.burst, got, tc.want)
		}
	}
}

// at returns t on l's clock as a Time.
func at(l *RateLimiter, t time.Duration) time.Time { return l.epoch.Add(t) }

// A take given back leaves the ring as it found it, as it does the
// timeline: the call never started.
func TestRateLimiterRingUntake(t *testing.T) {
	ms := time.Millisecond
	l := NewRateLimiter(Rate{N: 4, Per: 40 * ms}, 1) // 10ms apart, a ring of 4
	one := Cost{}
	l.Take(one, at(l, 0), 0)
	if l.ring.Load() != nil {
		t.Fatal("a take with no lag made a ring")
	}
	if w, m := l.Take(one, at(l, 11*ms), ms); w != 0 || m >= 0 {
		t.Fatalf("a late take: wait %v, mark %d; want admitted by the ring", w, m)
	}
	r := l.ring.Load()
	if r == nil {
		t.Fatal("a forgiven take made no ring")
	}
	l.Take(one, at(l, 20*ms), 0)
	tat, seq, count := l.timeline(), r.seq, r.count
	w, m := l.Take(one, at(l, 30*ms), 0)
	if w != 0 {
		t.Fatalf("take at 30ms: wait %v", w)
	}
	l.Untake(one, m)
	if l.timeline() != tat || r.seq != seq || r.count != count {
		t.Fatalf("after Untake: timeline %d, ring %d/%d; want %d, %d/%d", l.timeline(), r.seq, r.count, tat, seq, count)
	}
	// Given back after another take: the timeline gives the interval
	// back as always; the ring keeps both starts, which only holds back.
	_, m = l.Take(one, at(l, 30*ms), 0)
	l.Take(one, at(l, 40*ms), 0)
	tat, seq = l.timeline(), r.seq
	l.Untake(one, m)
	if l.timeline() != tat-int64(10*ms) || r.seq != seq {
		t.Fatalf("after a late Untake: timeline %d, ring seq %d; want %d, %d", l.timeline(), r.seq, tat-int64(10*ms), seq)
	}
	// The unit at 11ms, a millisecond late, and the ring's three after it:
	// the fifth may start no sooner than 51ms, whatever the timeline says.
	if w, _ := l.Take(one, at(l, 50*ms), 0); w != ms {
		t.Fatalf("take at 50ms: wait %v, want %v (the ring)", w, ms)
	}
}

// ringSeq returns how many units l's ring has logged.
func ringSeq(l *RateLimiter) int64 {
	r := l.ring.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

// A Gate gives the rate back when its semaphore refuses, and a ring's
// take is given back exactly: the caller, admitted when the slot frees,
// starts at once, and the next keeps to the interval.
func TestGateRingUntake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := time.Millisecond
		rate := NewRateLimiter(Rate{N: 10, Per: time.Second}, 1)
		rate.Take(Cost{}, time.Time{}, 0)
		time.Sleep(101 * ms)
		rate.Take(Cost{}, time.Time{}, ms) // a forgiven take: the ring is made
		if rate.ring.Load() == nil {
			t.Fatal("no ring")
		}
		sem := NewSemaphore(1)
		g := NewGate(rate, sem)
		begin := time.Now()
		time.Sleep(100 * ms) // the rate's next slot
		ctx := t.Context()
		p, err := g.Acquire(ctx, Cost{})
		if err != nil {
			t.Fatal(err)
		}
		seq := ringSeq(rate)
		var second time.Duration
		done := make(chan struct{})
		go func() {
			defer close(done)
			time.Sleep(100 * ms) // the rate admits it, the semaphore refuses
			q, err := g.Acquire(ctx, Cost{})
			if err != nil {
				t.Error(err)
				return
			}
			second = time.Since(begin)
			q.Done(Outcome{})
		}()
		time.Sleep(150 * ms)
		if got := ringSeq(rate); got != seq {
			t.Errorf("while refused by the semaphore, the ring logged %d more", got-seq)
		}
		p.Done(Outcome{})
		<-done
		if second != 250*ms {
			t.Errorf("second call admitted at %v, want 250ms (when the slot freed)", second)
		}
		q, err := g.Acquire(ctx, Cost{})
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Since(begin); got != 350*ms {
			t.Errorf("third call admitted at %v, want 350ms", got)
		}
		q.Done(Outcome{})
	})
}

// A SetRate empties the ring: windows at the new pace hold from the
// change on, and none is held to the old pace's starts.
func TestRateLimiterRingSetRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	fast, slow := apiSafe(PerSecond(200)), apiSafe(PerSecond(100))
	d := &lagDriver{l: NewRateLimiter(fast, 1), lag: func(bool) time.Duration {
		return time.Duration(rng.Int64N(int64(maxLate) + 1))
	}}
	for range 500 {
		d.take()
	}
	d.l.SetRate(slow)
	from := len(d.units)
	for range 500 {
		d.take()
	}
	if got, want := tightest(d.units[from:], 100), 100*int64(slow.Interval()); got < want {
		t.Fatalf("after SetRate, tightest 101 starts span %v, want at least %v", time.Duration(got), time.Duration(want))
	}
	if r := d.l.ring.Load(); r.k != 100 || len(r.buf) != 100 {
		t.Fatalf("ring of %d (%d entries), want 100", r.k, len(r.buf))
	}
	d.l.SetRate(Rate{}) // no limit, and back
	d.l.Take(Cost{}, at(d.l, time.Duration(d.now)), maxLate)
	d.l.SetRate(fast)
	for range 500 {
		d.take()
	}
}

// Takes with lag, give-backs, reservations and rate changes from many
// goroutines at once: the race detector's test, and the ring stays
// within its bounds.
func TestRateLimiterRingConcurrent(t *testing.T) {
	a, b := PerSecond(4000), PerSecond(2000)
	l := NewRateLimiter(a, 1)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for admitted := 0; admitted < 60; {
				c := Cost{Requests: 1 + rng.IntN(2)}
				w, m := l.Take(c, time.Time{}, time.Duration(rng.Int64N(int64(maxLate))))
				switch {
				case w != 0:
					runtime.Gosched()
				case rng.IntN(4) == 0:
					l.Untake(c, m)
				default:
					admitted++
					// A reservation cancelled after another goroutine
					// reserved gives back only what nobody reserved
					// after it (as x/time/rate's does), so a storm of
					// them, one per refused spin, pushed the schedule
					// ahead faster than time passed and the spinners
					// were refused for good (a CI run hung 10 minutes).
					// One per admission keeps the race and the bound.
					if rng.IntN(8) == 0 {
						l.Reserve(1).Cancel()
					}
				}
			}
		}()
	}
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			l.SetRate([]Rate{a, b}[i%2])
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	close(stop)
	r := l.ring.Load()
	if r == nil {
		t.Fatal("no ring")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.count < 0 || r.count > r.k || int64(len(r.buf)) != r.k {
		t.Fatalf("ring of %d holds %d, %d entries", r.k, r.count, len(r.buf))
	}
}

// A forgiven take with no earlier start in the ring is forgiven its lag,
// no more: the ring's "no unit due" must not read as a hold (it once
// wrapped round, and a take in a limiter's first milliseconds sent the
// timeline to the end of time).
func TestRateLimiterRingFirstTake(t *testing.T) {
	us := time.Microsecond
	l := NewRateLimiter(PerSecond(4000), 1) // 250µs apart
	l.Take(Cost{}, at(l, 0), 0)
	if w, _ := l.Take(Cost{}, at(l, 900*us), 100*us); w != 0 {
		t.Fatalf("wait %v", w)
	}
	if got, want := time.Duration(l.timeline()), 1050*us; got != want {
		t.Fatalf("timeline %v, want %v: the take at 900µs forgiven 100µs", got, want)
	}
	if w, _ := l.Take(Cost{}, at(l, 1100*us), time.Millisecond); w != 0 {
		t.Fatalf("wait %v", w)
	}
	if got, want := time.Duration(l.timeline()), 1300*us; got != want {
		t.Fatalf("timeline %v, want %v", got, want)
	}
}

// The ring logs a start at the clock, not at the caller's now: a Gate
// reads now once and a caller descheduled after reading it starts later
// than it says, which, logged as said, let the unit a window after it
// start less than a window after it really did.
func TestRateLimiterRingLogsTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := time.Millisecond
		l := NewRateLimiter(Rate{N: 2, Per: 200 * ms}, 1) // 100ms apart, a ring of 2
		begin := time.Now()
		take := func(at, stale, late time.Duration) time.Duration {
			time.Sleep(begin.Add(at).Sub(time.Now()))
			w, _ := l.Take(Cost{}, time.Now().Add(-stale), late)
			return w
		}
		take(0, 0, 0)
		take(101*ms, 0, ms) // forgiven: the ring is made
		if w := take(205*ms, 5*ms, 0); w != 0 {
			t.Fatalf("the take at 205ms that says 200ms: wait %v", w)
		}
		if w := take(301*ms, 0, 0); w != 0 {
			t.Fatalf("take at 301ms: wait %v", w)
		}
		if w := take(400*ms, 0, 0); w != 5*ms {
			t.Fatalf("take at 400ms: wait %v, want 5ms: two intervals after the start at 205ms", w)
		}
	})
}
