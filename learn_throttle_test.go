package sluice

import (
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// near reports whether got is within a millionth of want.
func near(got, want float64) bool { return math.Abs(got-want) <= 1e-6*math.Max(1, math.Abs(want)) }

// A cycle's estimate is the calls the API took, over the time from the
// cycle's beginning to the end of the cool-down the 429 starts: a first
// burst of 20 in a second's window, refused until the window ends, is 20
// a second, with no margin (the cool-down's rounding already slows it);
// later cycles take margin429 off, and a 429 lowers the rate in force by
// margin429 at least and by half at most, by longCut at most after a
// cycle of longCycle climbs.
func TestPaceOf429EstimatesTheCallsTakenOverTheCycle(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rate     float64 // in force before the 429; 0: none
		admitted int64   // admissions in the cycle, refused and in flight included
		refused  int64   // 429s of the cycle before this one
		inFlight int64
		cycle    time.Duration // the cycle's beginning to the cool-down's end
		want     float64
	}{
		{"first burst", 0, 28, 0, 7, time.Second, 20},
		{"a window's cycle", 21.5, 210, 0, 0, 10 * time.Second, 20.9 * (1 - margin429)},
		{"never up on a 429", 19, 400, 0, 0, 10 * time.Second, 19 * (1 - margin429)},
		{"at most halved", 20, 101, 0, 0, 10 * time.Second, 10},
		{"nothing taken: halved", 8, 1, 0, 0, time.Second, 4},
		{"refused calls are not taken", 21.5, 219, 9, 0, 10 * time.Second, 20.9 * (1 - margin429)},
		{"a long cycle cuts less", 20, 101, 0, 0, 10 * time.Second, 20 * longCut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &paceOf429{rate: tc.rate, refused: tc.refused, every: 10 * time.Second}
			if strings.HasPrefix(tc.name, "a long cycle") {
				p.every = time.Second // the cycle lasted 9.5 climbs
			}
			if tc.rate > 0 {
				p.decreased = 1 // a cycle after a decrease at the epoch
			}
			now := tc.cycle - time.Second/2
			got, changed := p.throttled(now-time.Millisecond, now, tc.cycle, 0, 0, tally429{admitted: tc.admitted, inFlight: tc.inFlight}, false, 0)
			if !changed || !near(got, tc.want) {
				t.Errorf("rate %v, changed %v; want %v", got, changed, tc.want)
			}
		})
	}
}

// One decrease per cycle: the 429s of calls admitted before a decrease
// were sent at the old pace and lower it no further (TCP's rule); the
// first 429 of a call admitted after it starts the next cycle's decrease.
func TestPaceOf429DecreasesOncePerCycle(t *testing.T) {
	p := &paceOf429{}
	now, end := 50*time.Millisecond, time.Second+50*time.Millisecond
	first, changed := p.throttled(40*time.Millisecond, now, end, 0, 0, tally429{admitted: 28, inFlight: 7}, false, 0)
	if !changed {
		t.Fatal("the first 429 set no rate")
	}
	for _, start := range []time.Duration{0, 45 * time.Millisecond, now} {
		if got, changed := p.throttled(start, now+time.Millisecond, end, 0, 0, tally429{admitted: 28, inFlight: 6}, false, 0); changed || got != first {
			t.Errorf("a 429 of a call admitted at %v (before the decrease at %v) moved the rate %v to %v", start, now, first, got)
		}
	}
	if got, changed := p.throttled(end+time.Millisecond, end+2*time.Second, end+3*time.Second, 0, 0, tally429{admitted: 28 + 50, inFlight: 0}, false, 0); !changed || got >= first {
		t.Errorf("a 429 of a call admitted after the decrease: rate %v (changed %v), want below %v", got, changed, first)
	}
}

// A rate is never zero: a cycle that took nothing halves the rate, at
// most, and leaves at least a call per cycle; a first cycle of fewer than
// minTaken calls says no pace at all, and a 429 about concurrency is the
// adaptive ceiling's.
func TestPaceOf429NeverCollapses(t *testing.T) {
	p := &paceOf429{rate: 0.3, decreased: 1}
	if got, _ := p.throttled(time.Second, 2*time.Second, 12*time.Second, 0, 0, tally429{admitted: 1, inFlight: 0}, false, 0); !near(got, 0.15) {
		t.Errorf("a cycle with nothing taken: rate %v, want half of 0.3", got)
	}
	p = &paceOf429{rate: 0.01, decreased: 1}
	if got, _ := p.throttled(time.Second, 2*time.Second, 12*time.Second, 0, 0, tally429{admitted: 1, inFlight: 0}, false, 0); !near(got, 0.01*(1-margin429)) {
		t.Errorf("a cycle of 12s: rate %v, want a margin under 0.01 (one call per cycle is more)", got)
	}
	p = &paceOf429{}
	if got, changed := p.throttled(0, time.Millisecond, time.Second, 0, 0, tally429{admitted: 2, inFlight: 1}, false, 0); changed || got != 0 {
		t.Errorf("a first cycle of one call taken set rate %v", got)
	}
	p = &paceOf429{}
	if got, changed := p.throttled(0, time.Millisecond, time.Second, 0, 0, tally429{admitted: 30, inFlight: 7, throttled: 1, nth: 1}, true, 0); changed || got != 0 || p.refused != 0 || p.forgiven {
		t.Errorf("a concurrency 429 set rate %v (changed %v), counted %d rate 429s, began a cycle %v; want none, 0, false", got, changed, p.refused, p.forgiven)
	}
}

// After a decrease the rate climbs back a cycle at a time: half the way
// to a margin below the rate the 429 came at, then holds there for
// plateauCycles, then probes above it with steps doubling from probeStep
// of it, never more than probeCap of the rate a cycle.
func TestPaceOf429ClimbsToAPlateauThenProbes(t *testing.T) {
	p := &paceOf429{rate: 10, top: 20, every: time.Second}
	p.next.Store(int64(time.Second) + 1)
	if _, changed := p.climb(time.Second - 1); changed {
		t.Fatal("climbed before a cycle had passed")
	}
	plateau := 20 * (1 - margin429)
	var got []float64
	now := time.Second
	for range 40 + plateauCycles {
		if r, changed := p.climb(now); changed {
			got = append(got, r)
		}
		now += time.Second
	}
	if len(got) < 2 || !near(got[0], 10+(plateau-10)/2) || !near(got[1], got[0]+(plateau-got[0])/2) {
		t.Fatalf("first climbs %v, want half the way to %v each", got[:min(len(got), 2)], plateau)
	}
	i := 0
	for i < len(got) && got[i] < plateau {
		i++
	}
	if i == len(got) || got[i] != plateau {
		t.Fatalf("climbs %v never reached the plateau %v", got, plateau)
	}
	probes := got[i+1:]
	if wantHeld := 40 + plateauCycles - (i + 1) - plateauCycles; len(probes) != wantHeld {
		t.Errorf("%d probes after the plateau, want %d: it holds %d cycles first", len(probes), wantHeld, plateauCycles)
	}
	prev := plateau
	for k, r := range probes {
		step := min(20*probeStep*math.Exp2(float64(k)), prev*probeCap)
		if !near(r, prev+step) {
			t.Errorf("probe %d: %v, want %v + %v", k, r, prev, step)
		}
		prev = r
	}
}

// Once the API's headers speak of requests, they pace alone: a rate
// learned from 429s gives way and 429s learn nothing more.
func TestPaceOf429GivesWayToTheHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate()
		call := func(o Outcome) {
			p, err := g.Acquire(t.Context(), Cost{})
			if err != nil {
				t.Fatal(err)
			}
			p.Done(o)
		}
		for range 4 {
			call(Outcome{})
		}
		call(Outcome{Class: ClassThrottled})
		if g.LearnedRate().IsZero() {
			t.Fatal("a 429 without headers after 4 calls learned no pace")
		}
		headers := slicedSafe(apiSafe(PerMinute(600)))
		call(Outcome{RateLimit: &RateLimitInfo{Requests: Quota{Limit: 600, Remaining: 500, Window: time.Minute, Reset: time.Second}}})
		if got := g.LearnedRate(); got != headers {
			t.Errorf("learned %v once the headers spoke, want theirs, %v", got, headers)
		}
		call(Outcome{Class: ClassThrottled})
		if got := g.LearnedRate(); got != headers {
			t.Errorf("learned %v from a 429 after the headers spoke, want theirs, %v", got, headers)
		}
	})
}

// A first 429's whole-second Retry-After says the window the first burst
// filled: the whole seconds in (since+retryAfter-1s, since+retryAfter].
// A Retry-After of a fraction of a second, or none, says none.
func TestWholeWindowOfAFirst429(t *testing.T) {
	for _, tc := range []struct {
		since, retryAfter, want time.Duration
	}{
		{500 * time.Millisecond, time.Second, time.Second},
		{50 * time.Millisecond, time.Second, time.Second},
		{0, time.Second, time.Second},
		{time.Second, time.Second, 2 * time.Second}, // (1s, 2s]
		{1500 * time.Millisecond, time.Second, 2 * time.Second},
		{250 * time.Millisecond, 10 * time.Second, 10 * time.Second},
		{150 * time.Millisecond, time.Minute, time.Minute},
		{500 * time.Millisecond, 0, 0},
		{500 * time.Millisecond, 1500 * time.Millisecond, 0},
		{500 * time.Millisecond, 300 * time.Millisecond, 0},
	} {
		if got := wholeWindow(tc.since, tc.retryAfter); got != tc.want {
			t.Errorf("wholeWindow(%v, %v) = %v, want %v", tc.since, tc.retryAfter, got, tc.want)
		}
	}
}

// A first burst of 200 in half a second, told to come back in a second,
// is read over the second's window with the margin, not over the cycle
// to the cool-down's end (133 a second), and that window's pace is the
// top the climb holds below; the calls in flight that the API took after
// all raise both. A Retry-After in milliseconds leaves the reading over
// the cycle, a floor, as before.
func TestPaceOf429ReadsAFirstBurstOverItsWholeSecondWindow(t *testing.T) {
	now := 500 * time.Millisecond
	p := &paceOf429{}
	got, changed := p.throttled(now, now, now+time.Second, 0, time.Second, tally429{admitted: 201, inFlight: 5}, false, 0)
	if want := 195 * (1 - margin429); !changed || !near(got, want) || !near(p.top, 195) {
		t.Fatalf("rate %v (changed %v), top %v; want %v and 195", got, changed, p.top, want)
	}
	for range 5 {
		got, _ = p.tookLate(now-time.Millisecond, time.Duration(p.late.Load()))
	}
	if want := 200 * (1 - margin429); !near(got, want) || !near(p.top, 200) {
		t.Errorf("after the calls in flight: rate %v, top %v; want %v and 200", got, p.top, want)
	}
	p = &paceOf429{}
	if got, _ := p.throttled(now, now, now+time.Second, 0, 1001*time.Millisecond, tally429{admitted: 201, inFlight: 0}, false, 0); !near(got, 200/1.5) || p.top != 0 {
		t.Errorf("a Retry-After in milliseconds: rate %v, top %v; want %v and none", got, p.top, 200/1.5)
	}
	// A 429 about concurrency paused the gate a second at 20ms: the first
	// calls left the window before the burst that filled it, and the
	// window the Retry-After would say from the first call is two
	// seconds, not one. The first cycle begins at that cool-down's end,
	// and its burst is read over its window, as a first burst's: read
	// over the cycle from the first call, it was 90 a second (218 calls
	// over 2.42 s), and an API of 20 a second and 5 in flight was paced
	// at 9.7, half its rate (an outside tester's finding).
	p = &paceOf429{}
	p.throttled(20*time.Millisecond, 20*time.Millisecond, 1020*time.Millisecond, 0, time.Second, tally429{admitted: 19, inFlight: 10, throttled: 1, nth: 1}, true, 0)
	now = 1420 * time.Millisecond
	if got, _ := p.throttled(now, now, now+time.Second, 0, time.Second, tally429{admitted: 220, inFlight: 0, throttled: 2, nth: 2}, false, 0); !p.est.windowed || !near(got, 200*(1-margin429)) || !near(p.top, 200) {
		t.Errorf("after a cool-down about concurrency: rate %v (windowed %v), top %v; want %v over the window and 200", got, p.est.windowed, p.top, 200*(1-margin429))
	}
	// A 429 about concurrency that asked for no cool-down begins no
	// cycle: the first call is still the window's oldest.
	p = &paceOf429{}
	p.throttled(20*time.Millisecond, 20*time.Millisecond, 0, 0, 0, tally429{admitted: 19, inFlight: 10, throttled: 1, nth: 1}, true, 0)
	if got, _ := p.throttled(now, now, now+time.Second, 0, time.Second, tally429{admitted: 220, inFlight: 0, throttled: 2, nth: 2}, false, 0); !p.est.windowed || !near(got, 218*(1-margin429)/2) {
		t.Errorf("after a 429 about concurrency with no cool-down: rate %v (windowed %v), want %v over the 2s window from the first call", got, p.est.windowed, 218*(1-margin429)/2)
	}
}

// Once a pace is learned, a 429 about concurrency begins no cycle, and
// its cool-down, in which nothing was sent, is left out of the cycle's
// time, once however many 429s of one burst asked for it: the calls the
// cycle took are read over the time they were sent in. Begun again at
// the cool-down's end, the cycle counted only the calls after it, and the
// next 429 read them over a cycle cut short.
func TestPaceOf429LeavesACoolDownAboutConcurrencyOutOfTheCycle(t *testing.T) {
	p := &paceOf429{}
	at := 500 * time.Millisecond
	if got, _ := p.throttled(at, at, at+time.Second, 0, time.Second, tally429{admitted: 21, throttled: 1, nth: 1}, false, 0); !near(got, 20*(1-margin429)) {
		t.Fatalf("first burst: rate %v, want %v", got, 20*(1-margin429))
	}
	// Two 429s about concurrency of one burst, each asking for a second.
	for i, at := range []time.Duration{2000 * time.Millisecond, 2010 * time.Millisecond} {
		c := tally429{admitted: 32 + int64(i), inFlight: 4, throttled: 2 + int64(i), nth: 2 + int64(i)}
		if got, changed := p.throttled(at-100*time.Millisecond, at, 3*time.Second, 0, time.Second, c, true, 0); changed || !near(got, 20*(1-margin429)) {
			t.Fatalf("a 429 about concurrency set rate %v (changed %v)", got, changed)
		}
	}
	if p.idle != time.Second || p.boundary != 1500*time.Millisecond {
		t.Fatalf("after the 429s about concurrency: idle %v, cycle from %v; want 1s, from 1.5s", p.idle, p.boundary)
	}
	// 30 calls taken from 1.5s to 4s, the cool-down's second apart.
	now := 4 * time.Second
	got, _ := p.throttled(now, now, now+time.Second, 0, time.Second, tally429{admitted: 21 + 30 + 3, throttled: 4, nth: 4}, false, 0)
	if want := 30 / 2.5 * (1 - margin429); !near(got, want) {
		t.Errorf("rate %v, want %v: 30 calls over the 2.5s of the cycle that sent", got, want)
	}
	if p.idle != 0 {
		t.Errorf("the next cycle begins with %v idle, want none", p.idle)
	}
}

// What the first 429 counts taken is what the API took, however the
// calls done around it race to be learned of: a 429 of the storm, done
// (and counted throttled) before the first one's decrease counted the
// calls done, is not taken, though it is learned of only after; one
// still in flight then is not taken either, and the next cycle does not
// count it as its own; a success done before the decrease counted it is
// not counted again when it reaches tookLate, and one done after is.
// Counting the storm's 429s taken read a burst of 200 as 204, over the
// limit, and cost a 429 a cycle.
func TestPaceOf429CountsWhatTheAPITook(t *testing.T) {
	now := 500 * time.Millisecond
	p := &paceOf429{}
	// 206 admitted: 200 taken, of which one in flight; 6 refused, of
	// which 4 done (the first 429 among them) and 2 in flight.
	r, _ := p.throttled(now, now, now+time.Second, 0, time.Second, tally429{admitted: 206, inFlight: 3, throttled: 4, nth: 1}, false, 0)
	if want := 199 * (1 - margin429); !near(r, want) {
		t.Fatalf("rate %v, want %v: 199 taken of the calls done", r, want)
	}
	late := time.Duration(p.late.Load())
	for nth := int64(2); nth <= 6; nth++ { // the storm, learned of after the decrease
		if got, changed := p.throttled(now-time.Millisecond, now+time.Millisecond, now+time.Second, 0, time.Second,
			tally429{admitted: 206, inFlight: 6 - nth, throttled: nth, nth: nth}, false, 0); changed || got != r {
			t.Errorf("the storm's 429 number %d moved the rate %v to %v", nth, r, got)
		}
	}
	if got, changed := p.tookLate(now-time.Millisecond, 0); changed || got != r {
		t.Errorf("a success done before the decrease counted, counted again: rate %v to %v", r, got)
	}
	if got, _ := p.tookLate(now-time.Millisecond, late); !near(got, 200*(1-margin429)) {
		t.Errorf("the success in flight at the decrease: rate %v, want %v", got, 200*(1-margin429))
	}
	// The next cycle: 100 admitted, 2 of them refused; the storm's two
	// 429s in flight at the decrease are not its own.
	end := now + time.Second
	p.late.Store(0)
	r, _ = p.throttled(end+time.Second, end+time.Second, end+2*time.Second, 0, time.Second,
		tally429{admitted: 306, inFlight: 0, throttled: 8, nth: 8}, false, 0)
	if want := 98.0 / 2 * (1 - margin429); !near(r, max(want, p.est.lo)) || p.est.taken != 98 {
		t.Errorf("the next cycle took %d calls (rate %v), want 98", p.est.taken, r)
	}
}

// A 429 of a probe above a plateau that held sets the top halfway
// between the plateau's top and the rate the probe reached: a window
// counted in fixed slices refuses a probe cycles after it passed the
// limit, and a top at the probe's rate set a plateau above the limit (a
// 20/s window refused a probe at 20.7, then the plateau at 20.3 under
// it, in a short cycle that cut deep). A 429 before the probe sets the
// top at the rate it came at, as before.
func TestPaceOf429ProbesRefusedLateSetTheTopHalfway(t *testing.T) {
	p := &paceOf429{rate: 20.7, top: 20, quiet: plateauCycles + 6, decreased: 1, every: time.Second}
	now := 50 * time.Second
	p.throttled(now, now, now+time.Second, 0, time.Second, tally429{admitted: 1000}, false, 0)
	if want := (20 + 20.7) / 2; !near(p.top, want) || !near(p.came, want) {
		t.Errorf("after a probe's 429: top %v, came %v; want %v", p.top, p.came, want)
	}
	p = &paceOf429{rate: 19.9, top: 20, quiet: 3, decreased: 1, every: time.Second}
	p.throttled(now, now, now+time.Second, 0, time.Second, tally429{admitted: 1000}, false, 0)
	if p.top != 19.9 {
		t.Errorf("after a 429 below the plateau: top %v, want 19.9", p.top)
	}
}
