package sluice_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice"
)

// paceStore is a Store in memory whose shared limits admit every call at
// once, with tickets that say whether their calls were admitted by
// limits of this process alone (unshared: a store's fallback, or the
// grace after it), and which keeps a request pace learned from 429s apart
// (paced: what it says it holds; learned429: what it was told).
type paceStore struct {
	mu         sync.Mutex
	unshared   bool
	paced      sluice.Rate
	learned    []sluice.Limits
	learned429 []sluice.Limits
}

func (s *paceStore) Share(string, sluice.Limits) sluice.Shared { return paceShared{s} }

type paceShared struct{ s *paceStore }

func (p paceShared) Admit(context.Context, sluice.Cost) (sluice.Ticket, time.Duration, error) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return paceTicket{p.s.unshared}, 0, nil
}
func (paceShared) Changed() <-chan struct{} { return nil }
func (paceShared) Pause(time.Time)          {}
func (p paceShared) Learn(l sluice.Limits) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	p.s.learned = append(p.s.learned, l)
}
func (p paceShared) Learn429(l sluice.Limits, was sluice.Rate) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	p.s.learned429 = append(p.s.learned429, l)
	p.s.paced = l.Rate
}
func (p paceShared) PaceOf429() sluice.Rate {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.s.paced
}

type paceTicket struct{ unshared bool }

func (paceTicket) Finish(sluice.Outcome) {}
func (t paceTicket) Unshared() bool      { return t.unshared }

// throttled429 returns a strict API's 429: Retry-After 1, no rate-limit
// headers.
func throttled429() sluice.Outcome {
	info := sluice.ParseRateLimitHeaders(http.Header{"Retry-After": {"1"}}, time.Now())
	return sluice.Outcome{Class: sluice.ClassThrottled, RateLimit: &info}
}

// call admits one call through g and ends it with o, failing the test on
// an error.
func call(t *testing.T, g *sluice.Gate, o sluice.Outcome) {
	t.Helper()
	p, err := g.Acquire(context.Background(), sluice.Cost{})
	if err != nil {
		t.Fatal(err)
	}
	p.Done(o)
}

// A gate whose given rate is kept in a Store forgives its first 429 as a
// gate in memory does (README: the first such 429 costs its cool-down and
// no pace): an outside review saw shared gates at a given 10/s each learn
// 3.76-4.0/s from the 429s of one Redis stall, read from their own
// calls alone (half of the API's) and shared as the pace of all.
func TestSharedGateFirst429UnderAGivenRateCutsNoPace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := sluice.Limits{Rate: sluice.PerSecond(10), Concurrency: 4, Store: &paceStore{}}.NewGate()
		for range 5 {
			call(t, g, sluice.Outcome{})
			time.Sleep(200 * time.Millisecond) // this process's half of the 10/s
		}
		call(t, g, throttled429())
		if r := g.LearnedRate(); !r.IsZero() {
			t.Errorf("learned %v from a shared gate's first 429 under a given 10/s; want none", r)
		}
		// A second one is learned from, but never below half the rate
		// given, and climbs back to it: the given rate is the top.
		time.Sleep(time.Second)
		for range 5 {
			call(t, g, sluice.Outcome{})
			time.Sleep(200 * time.Millisecond)
		}
		call(t, g, throttled429())
		r := g.LearnedRate().PerSec()
		if r < 4.9 {
			t.Errorf("a second 429 taught %.2f/s; want at least half the given 10/s", r)
		}
		time.Sleep(time.Second)
		for range 250 {
			call(t, g, sluice.Outcome{})
			time.Sleep(100 * time.Millisecond)
		}
		if r := g.LearnedRate().PerSec(); r < 9.5 {
			t.Errorf("25 quiet seconds after the cut the pace is %.2f/s; want it back near the given 10/s", r)
		}
	})
}

// A 429 of a call the shared limits did not keep alone (admitted by the
// store's fallback while it did not answer, or in the grace after) is the
// hand-over's, not the API's word on its pace: it pauses the gate and
// teaches no pace, and the first 429 of the shared limits' own calls is
// still forgiven (an outside review: 1-2 calls over a strict window after
// a Redis stall cut the given 10/s to 3.76/s).
func TestUnsharedCallsThrottledTeachNoPace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &paceStore{unshared: true}
		g := sluice.Limits{Rate: sluice.PerSecond(10), Concurrency: 4, Store: st}.NewGate()
		for range 3 {
			for range 5 {
				call(t, g, sluice.Outcome{})
				time.Sleep(200 * time.Millisecond)
			}
			call(t, g, throttled429())
			if r := g.LearnedRate(); !r.IsZero() {
				t.Fatalf("learned %v from the 429s of calls admitted outside the shared limits; want none", r)
			}
			if until := g.PausedUntil(); until.IsZero() {
				t.Errorf("a 429 did not pause the gate")
			}
			time.Sleep(time.Second)
		}
		st.mu.Lock()
		st.unshared = false
		st.mu.Unlock()
		for range 5 {
			call(t, g, sluice.Outcome{})
			time.Sleep(200 * time.Millisecond)
		}
		call(t, g, throttled429())
		if r := g.LearnedRate(); !r.IsZero() {
			t.Errorf("learned %v from the shared limits' first 429; want it forgiven", r)
		}
	})
}

// A pace learned from 429s that the shared limits hold (another
// process's, or one left by processes since restarted) is followed as
// the gate's own: its LearnedRate says it, and it climbs back on quiet
// cycles, each climb shared, where it used to hold every process for the
// hour Redis kept it while they reported 0 (an outside review: 7.39/s of
// a given 10/s outlived a restart of both proxies; 167 of 240 calls in
// 31s, the fresh key's 240 in 25s).
func TestPaceOf429HeldBySharedLimitsIsFollowedAndClimbsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &paceStore{paced: sluice.PerSecond(7.39)}
		g := sluice.Limits{Rate: sluice.PerSecond(10), Concurrency: 4, Store: st}.NewGate()
		call(t, g, sluice.Outcome{})
		if r := g.LearnedRate().PerSec(); r < 7.38 || r > 7.40 {
			t.Fatalf("after an admission LearnedRate is %.2f/s; want the shared 7.39/s", r)
		}
		if s := g.Stats().Learned.PerSec(); s < 7.38 || s > 7.40 {
			t.Errorf("Stats().Learned is %.2f/s; want the shared 7.39/s", s)
		}
		for range 100 {
			time.Sleep(100 * time.Millisecond)
			call(t, g, sluice.Outcome{})
		}
		r := g.LearnedRate().PerSec()
		if r < 9.5 || r > 10 {
			t.Errorf("10 quiet seconds on, the pace is %.2f/s; want it climbed back near the given 10/s", r)
		}
		st.mu.Lock()
		told := len(st.learned429)
		last := st.paced
		st.mu.Unlock()
		if told == 0 || last.PerSec() < 9.5 {
			t.Errorf("the climb was shared %d times, last %v; want each climb shared as a pace from 429s", told, last)
		}
		// Another process's cut is followed too.
		st.mu.Lock()
		st.paced = sluice.PerSecond(6)
		st.mu.Unlock()
		call(t, g, sluice.Outcome{})
		if r := g.LearnedRate().PerSec(); r < 5.99 || r > 6.01 {
			t.Errorf("after another process's cut to 6/s, LearnedRate is %.2f/s", r)
		}
	})
}
