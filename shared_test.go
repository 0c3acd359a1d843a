package sluice_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice"
)

// fakeShared is a Shared in memory: it admits up to slots calls at once
// and records how it was asked.
type fakeShared struct {
	mu       sync.Mutex
	slots    int
	held     int
	asking   atomic.Int32
	overlap  atomic.Bool // two Admits were out at once
	asked    atomic.Int32
	err      error
	paused   time.Time
	change   chan struct{}
	finished atomic.Int32
	learned  sluice.Limits
}

func (f *fakeShared) Admit(ctx context.Context, c sluice.Cost) (sluice.Ticket, time.Duration, error) {
	if f.asking.Add(1) > 1 {
		f.overlap.Store(true)
	}
	defer f.asking.Add(-1)
	f.asked.Add(1)
	time.Sleep(time.Millisecond) // the round trip
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, 0, f.err
	}
	if d := time.Until(f.paused); d > 0 {
		return nil, d, nil
	}
	if f.held >= f.slots {
		return nil, sluice.WaitForChange, nil
	}
	f.held++
	return fakeTicket{f}, 0, nil
}

func (f *fakeShared) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.change == nil {
		f.change = make(chan struct{})
	}
	return f.change
}

func (f *fakeShared) Pause(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused = t
}

func (f *fakeShared) Learn(l sluice.Limits) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.learned = l
}

type fakeTicket struct{ f *fakeShared }

func (t fakeTicket) Finish(sluice.Outcome) {
	t.f.finished.Add(1)
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.f.held--
	if t.f.change != nil {
		close(t.f.change)
		t.f.change = nil
	}
}

// Only the caller at the front asks the shared limits, one at a time, and
// a call they refuse holds nothing of the gate's own limits meanwhile.
func TestSharedIsAskedByOneCallerAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeShared{slots: 2}
		sem := sluice.NewSemaphore(10)
		g := sluice.NewSharedGate(f, sem)
		var wg sync.WaitGroup
		var most atomic.Int32
		var inFlight atomic.Int32
		for range 20 {
			wg.Go(func() {
				p, err := g.Acquire(context.Background(), sluice.Cost{})
				if err != nil {
					t.Error(err)
					return
				}
				n := inFlight.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(10 * time.Millisecond)
				inFlight.Add(-1)
				p.Done(sluice.Outcome{})
			})
		}
		time.Sleep(5 * time.Millisecond) // two round trips admit two; the third is refused
		if got := sem.Held(); got != 2 {
			t.Errorf("own semaphore holds %d while the shared limit admits 2; want 2 (refused calls give back)", got)
		}
		wg.Wait()
		if f.overlap.Load() {
			t.Error("two callers asked the shared limits at once")
		}
		if got := most.Load(); got != 2 {
			t.Errorf("at most %d in flight; want 2", got)
		}
		if got := f.finished.Load(); got != 20 {
			t.Errorf("%d tickets finished; want 20", got)
		}
		if got := sem.Held(); got != 0 {
			t.Errorf("semaphore holds %d after all done; want 0", got)
		}
	})
}

// A Shared that cannot answer fails the call with its error, and the
// gate's own limits are left as if the call had never been tried.
func TestSharedErrorGivesBackOwnLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("store down")
		f := &fakeShared{slots: 1, err: boom}
		rl := sluice.NewRateLimiter(sluice.Rate{N: 1, Per: time.Second}, 1)
		sem := sluice.NewSemaphore(1)
		g := sluice.NewSharedGate(f, rl, sem)
		if _, err := g.Acquire(context.Background(), sluice.Cost{}); !errors.Is(err, boom) {
			t.Fatalf("Acquire: %v; want %v", err, boom)
		}
		if sem.Held() != 0 || !rl.Allow() {
			t.Errorf("own limits not given back: held %d, rate allows %v", sem.Held(), false)
		}
	})
}

// A pause on a gate with shared limits is shared: the Shared is told.
func TestPauseIsShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeShared{slots: 1}
		g := sluice.NewSharedGate(f)
		until := time.Now().Add(time.Second)
		g.PauseUntil(until)
		f.mu.Lock()
		got := f.paused
		f.mu.Unlock()
		if !got.Equal(until) {
			t.Errorf("shared pause %v; want %v", got, until)
		}
		// A second gate of the same Shared (another process) waits it out.
		g2 := sluice.NewSharedGate(f)
		start := time.Now()
		p, err := g2.Acquire(context.Background(), sluice.Cost{})
		if err != nil {
			t.Fatal(err)
		}
		p.Done(sluice.Outcome{})
		if waited := time.Since(start); waited < time.Second {
			t.Errorf("admitted after %v; want the shared pause (1s) waited out", waited)
		}
	})
}

// What a gate with shared limits learns from headers is shared: every
// process's responses describe the API's one quota.
func TestLearnedLimitsAreShared(t *testing.T) {
	f := &fakeShared{slots: 10}
	g := sluice.NewSharedGate(f)
	p, err := g.Acquire(context.Background(), sluice.Cost{})
	if err != nil {
		t.Fatal(err)
	}
	p.Done(sluice.Outcome{RateLimit: &sluice.RateLimitInfo{Requests: sluice.Quota{Limit: 60, Remaining: 59, Window: time.Minute}}})
	f.mu.Lock()
	got := f.learned.Rate
	f.mu.Unlock()
	if got.N != 60 || got.Per < time.Minute {
		t.Errorf("shared learned rate %v; want 60 per minute (with the margin)", got)
	}
}

// A deadline that the shared limits' wait overshoots fails at once.
func TestSharedWaitBeyondDeadlineFailsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeShared{slots: 1, paused: time.Now().Add(time.Minute)}
		g := sluice.NewSharedGate(f)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := g.Acquire(ctx, sluice.Cost{})
		var we *sluice.WaitError
		if !errors.As(err, &we) {
			t.Fatalf("Acquire: %v; want a *WaitError", err)
		}
		if waited := time.Since(start); waited > 10*time.Millisecond {
			t.Errorf("refused after %v; want at once", waited)
		}
	})
}

// A Limit from outside the package plugs into a Gate: the contract is
// exported, and the gate orders limits that hold last.
type countLimit struct {
	mu       sync.Mutex
	max, n   int
	taken    int
	finished int
}

func (l *countLimit) Take(c sluice.Cost, _ time.Time, _ time.Duration) (time.Duration, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n >= l.max {
		return sluice.WaitForChange, 0
	}
	l.n++
	l.taken++
	return 0, 0
}
func (l *countLimit) Untake(sluice.Cost, int64) { l.mu.Lock(); l.n--; l.mu.Unlock() }
func (l *countLimit) Finish(sluice.Cost, time.Time, sluice.Outcome) {
	l.mu.Lock()
	l.n--
	l.finished++
	l.mu.Unlock()
}
func (l *countLimit) Changed() <-chan struct{}                       { return nil }
func (l *countLimit) Predict(sluice.Cost, sluice.Cost) time.Duration { return 0 }
func (l *countLimit) Rested() bool                                   { return true }
func (l *countLimit) Info() sluice.LimitInfo                         { return sluice.LimitInfo{Holds: true, Ceiling: l.max} }

func TestLimitFromOutsideThePackage(t *testing.T) {
	l := &countLimit{max: 3}
	g := sluice.NewGate(l)
	p, err := g.Acquire(context.Background(), sluice.Cost{})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Stats().Ceiling; got != 3 {
		t.Errorf("Stats().Ceiling = %d; want 3 (from Info)", got)
	}
	p.Done(sluice.Outcome{})
	if l.taken != 1 || l.finished != 1 || l.n != 0 {
		t.Errorf("taken %d finished %d held %d; want 1 1 0", l.taken, l.finished, l.n)
	}
}

// The library knows no Redis client: package redis plugs into it.
func TestLibraryDoesNotDependOnRedis(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/sluicehq/sluice\n") {
		t.Fatalf("go list -deps output does not name the package itself:\n%s", out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "go-redis") || strings.Contains(dep, "redis/") {
			t.Errorf("the library depends on %s", dep)
		}
	}
}
