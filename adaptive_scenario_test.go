package sluice

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// simAPI is an API under testing/synctest: each call takes the latency
// its function draws, and over the concurrency limit (when set) the call
// is refused at once with a "concurrent connections" 429.
type simAPI struct {
	// latency draws a call's time from the work (rng) and the load (calls
	// in flight at the API, this one included).
	latency func(rng *rand.Rand, inFlight int) time.Duration

	mu       sync.Mutex
	limit    int // most calls in flight; 0 means none
	inFlight int
	calls    int
	refused  int
}

func (s *simAPI) setLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = n
}

func (s *simAPI) counts() (calls, refused int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.refused
}

func (s *simAPI) call(rng *rand.Rand) Outcome {
	s.mu.Lock()
	s.calls++
	if s.limit > 0 && s.inFlight >= s.limit {
		s.refused++
		s.mu.Unlock()
		time.Sleep(5 * time.Millisecond) // a refusal is quick
		return Outcome{Class: ClassThrottled, ConcurrencyLimited: true}
	}
	s.inFlight++
	d := s.latency(rng, s.inFlight)
	s.mu.Unlock()
	time.Sleep(d)
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
	return Outcome{}
}

// uniformWork is latency that follows the work alone: uniform in
// [lo, hi), whatever the load.
func uniformWork(lo, hi time.Duration) func(*rand.Rand, int) time.Duration {
	return func(rng *rand.Rand, _ int) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)))
	}
}

// drive sends calls to api through g from workers goroutines, each always
// waiting for a slot, until ctx is done. Each worker draws from its own
// seeded generator, so the work is the same on every run.
func drive(ctx context.Context, g *Gate, api *simAPI, workers int, seed uint64) {
	var wg sync.WaitGroup
	for i := range workers {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		wg.Go(func() {
			for ctx.Err() == nil {
				p, err := g.Acquire(ctx, Cost{})
				if err != nil {
					return
				}
				p.Done(api.call(rng))
			}
		})
	}
	wg.Wait()
}

// ceilings samples a's ceiling every step until ctx is done.
func ceilings(ctx context.Context, a *AdaptiveLimit, step time.Duration) func() []int {
	var got []int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(step):
				got = append(got, a.Ceiling())
			}
		}
	}()
	return func() []int { <-done; return got }
}

// Issue 9, item 4: LLM latency follows the output's length, not the load.
// With the baseline at the lowest latency ever seen, latency spread over
// 200ms-4s looked like congestion and pinned the ceiling near 14 of 64.
func TestAdaptiveCeilingGrowsWhenLatencyFollowsTheWork(t *testing.T) {
	for _, tc := range []struct {
		name        string
		early429    bool // one 429 first: slow start ends, growth is additive
		seed        uint64
		wantAtLeast int
	}{
		{"from the start", false, 1, 48},
		{"after an early 429", true, 2, 48},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := NewAdaptiveLimit(1, 64)
				g := NewGate(a)
				if tc.early429 {
					p, _ := g.Acquire(t.Context(), Cost{})
					p.Done(Outcome{Class: ClassThrottled})
				}
				api := &simAPI{latency: uniformWork(200*time.Millisecond, 4*time.Second)}
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
				defer cancel()
				seen := ceilings(ctx, a, 30*time.Second)
				drive(ctx, g, api, 100, tc.seed)
				got := a.Ceiling()
				t.Logf("ceiling every 30s: %v", seen())
				if got < tc.wantAtLeast {
					t.Errorf("ceiling after 5 minutes is %d of 64, want at least %d (every 30s: %v)", got, tc.wantAtLeast, seen())
				}
			})
		})
	}
}

// Against a real concurrency limit the ceiling must still settle at the
// limit, learning it from "concurrent" 429s, with few of them: a server
// allowing 5 calls whose latency rises with its load.
func TestAdaptiveCeilingSettlesAtAConcurrencyLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := NewAdaptiveLimit(1, 64)
		g := NewGate(a)
		work := uniformWork(200*time.Millisecond, 4*time.Second)
		api := &simAPI{limit: 5, latency: func(rng *rand.Rand, inFlight int) time.Duration {
			return work(rng, inFlight) * time.Duration(4+inFlight) / 5
		}}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		defer cancel()
		seen := ceilings(ctx, a, 30*time.Second)
		drive(ctx, g, api, 64, 3)
		got := seen()
		calls, refused := api.counts()
		t.Logf("ceiling every 30s: %v; %d of %d calls refused", got, refused, calls)
		if share := float64(refused) / float64(calls); share > 0.01 {
			t.Errorf("%d of %d calls (%.2f%%) got a 429, want at most 1%%", refused, calls, 100*share)
		}
		for i, c := range got[len(got)/2:] { // the last five minutes
			if c < 4 || c > 6 {
				t.Errorf("ceiling %d at %v, want it near the limit of 5 (every 30s: %v)",
					c, time.Duration(len(got)/2+i+1)*30*time.Second, got)
				break
			}
		}
	})
}

// Issue 9, item 5: one "concurrent connections" 429, common when other
// clients share the key, pinned the top for the gate's life. After a quiet
// period the top must probe upward and find a limit that was raised.
func TestAdaptiveTopProbesBackUpAfterAQuietPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := NewAdaptiveLimit(1, 64)
		g := NewGate(a)
		api := &simAPI{limit: 3, latency: uniformWork(100*time.Millisecond, 300*time.Millisecond)}
		ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
		defer cancel()
		var top3 int
		go func() {
			time.Sleep(2 * time.Minute)
			_, top3 = a.Bounds()
			api.setLimit(10) // the other clients sharing the key left
		}()
		seen := ceilings(ctx, a, 30*time.Second)
		drive(ctx, g, api, 64, 4)
		got := seen()
		t.Logf("ceiling every 30s: %v", got)
		if top3 > 3 {
			t.Errorf("top %d against a limit of 3, want it learned", top3)
		}
		if c := a.Ceiling(); c < 9 || c > 11 {
			t.Errorf("ceiling %d six minutes after the API's limit rose to 10, want near 10 (every 30s: %v)", c, got)
		}
		calls, refused := api.counts()
		if share := float64(refused) / float64(calls); share > 0.01 {
			t.Errorf("%d of %d calls (%.2f%%) got a 429, want at most 1%%", refused, calls, 100*share)
		}
	})
}

// Issue 15: at thousands of calls a second the long-run latency, a
// two-minute mean, stayed frozen at the latency of the first calls. A
// program that started gently (one call at a time: no queue anywhere) and
// then opened up to 64 workers on a busy machine saw every call's latency
// triple from its own CPU queue, flat from then on and nothing refused;
// the ceiling parked near 16 of 64 for minutes and the workers waited in
// the gate's line. The baseline must follow a fast API within about a
// thousand calls.
func TestAdaptiveCeilingReachesTheTopWhenAFastAPIsLatencyStepsUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := NewAdaptiveLimit(1, 64)
		g := NewGate(a)
		ctx := t.Context()
		gentle := &simAPI{latency: uniformWork(90*time.Microsecond, 110*time.Microsecond)}
		rng := rand.New(rand.NewPCG(15, 0))
		for range 2000 {
			p, err := g.Acquire(ctx, Cost{})
			if err != nil {
				t.Fatal(err)
			}
			p.Done(gentle.call(rng))
		}
		busy := &simAPI{latency: uniformWork(250*time.Microsecond, 350*time.Microsecond)}
		run, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		seen := ceilings(run, a, 100*time.Millisecond)
		drive(run, g, busy, 64, 15)
		got := seen()
		if c := a.Ceiling(); c != 64 {
			t.Errorf("ceiling %d after 2s of flat latency and no 429, want 64 (every 100ms: %v)", c, got)
		}
		if got[len(got)/2] != 64 {
			t.Errorf("ceiling %d after 1s, want 64 (every 100ms: %v)", got[len(got)/2], got)
		}
	})
}

// cpuQueue is latency that is mostly the wait for a core: a call costs
// cost of one of cores cores, so with n calls in flight it takes about
// cost×n/cores (Little's law), plus the fixed time of its round trip. It is
// what an instant API looks like from a client on a busy machine.
func cpuQueue(fixed, cost time.Duration, cores int) func(*rand.Rand, int) time.Duration {
	return func(rng *rand.Rand, inFlight int) time.Duration {
		queue := float64(cost) * float64(inFlight) / float64(cores)
		return time.Duration((float64(fixed) + queue) * (0.9 + 0.2*rng.Float64()))
	}
}

// Issue 15: against an instant API on a busy machine the latency a client
// sees is its place in the CPU's queue, and grows with the calls in flight
// although the API refuses nothing. After a gentle start (one call at a
// time) latency ended slow start near 12 of 64 and the ceiling climbed one
// per round trip, about 4,000 calls to the top, while 64 workers waited in
// the gate's line. Before any decrease the climb is by the ceiling's square
// root per round trip: here the top within 2,000 calls, not 2,500.
func TestAdaptiveCeilingClimbsFastWhenTheClientsCPUIsTheQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := NewAdaptiveLimit(1, 64)
		g := NewGate(a)
		ctx := t.Context()
		api := &simAPI{latency: cpuQueue(200*time.Microsecond, 40*time.Microsecond, 2)}
		rng := rand.New(rand.NewPCG(15, 0))
		for range 2000 {
			p, err := g.Acquire(ctx, Cost{})
			if err != nil {
				t.Fatal(err)
			}
			p.Done(api.call(rng))
		}
		warm, _ := api.counts()
		// About 2,000 calls, 43 a millisecond at 64 in flight.
		run, cancel := context.WithTimeout(ctx, 45*time.Millisecond)
		defer cancel()
		seen := ceilings(run, a, 5*time.Millisecond)
		drive(run, g, api, 64, 15)
		got := seen()
		calls, refused := api.counts()
		if c := a.Ceiling(); c != 64 || refused != 0 {
			t.Errorf("ceiling %d after %d calls with latency from the CPU queue alone (%d refused), want 64 (every 5ms: %v)",
				c, calls-warm, refused, got)
		}
	})
}

// Cautious growth lasts until the first decrease: a 429 after it halves the
// ceiling, and growth is one per round trip from then on.
func TestAdaptiveCautiousGrowthEndsAtTheFirstDecrease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := NewAdaptiveLimit(1, 100)
		healthy := Outcome{Latency: 10 * time.Millisecond}
		round := func() {
			n := a.Ceiling()
			at := busy(t, a, n)
			for range n {
				a.Finish(Cost{}, at, healthy)
			}
		}
		round() // sets the baseline: 8 becomes 16 in slow start
		a.mu.Lock()
		a.endSlowStart() // as latency half again the long-run does
		a.mu.Unlock()
		round()
		if got := a.Ceiling(); got != 19 { // about 16 + √16: the step shrinks as the ceiling grows
			t.Fatalf("a healthy round after slow start grew the ceiling to %d, want 19 (about 16 + √16)", got)
		}
		at := busy(t, a, 19)
		time.Sleep(time.Millisecond)
		a.Finish(Cost{}, at, Outcome{Class: ClassThrottled})
		release(a, at, 18)
		if got := a.Ceiling(); got != 9 {
			t.Fatalf("after a 429 the ceiling is %d, want 9", got)
		}
		for _, want := range []int{10, 11} {
			round()
			if got := a.Ceiling(); got != want {
				t.Fatalf("after a decrease a healthy round grew the ceiling to %d, want %d", got, want)
			}
		}
	})
}
