package redis

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/apitest"
)

// Redis stopped and restarted mid-run: each mode answers as it says,
// never hangs an admission past the call timeout, warns, counts, and goes
// back to Redis once it answers.
func TestRedisStoppedAndRestartedInEachMode(t *testing.T) {
	for _, mode := range []Mode{Local, Open, Closed} {
		t.Run(mode.String(), func(t *testing.T) {
			srv := startServer(t)
			var log apitest.Buffer
			st := newTestStore(t, srv.addr, uniquePrefix(t), Options{
				Mode: mode, CallTimeout: 100 * time.Millisecond, RetryEvery: 100 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(&log, nil)),
			})
			g := sluice.Limits{Rate: sluice.PerSecond(200), Concurrency: 4, Store: st}.NewGate()
			admit := func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				start := time.Now()
				p, err := g.Acquire(ctx, sluice.Cost{})
				if d := time.Since(start); d > time.Second {
					t.Errorf("an admission took %v; want at most about the call timeout", d)
				}
				if err == nil {
					p.Done(sluice.Outcome{})
				}
				return err
			}
			for range 5 {
				if err := admit(); err != nil {
					t.Fatalf("with Redis up: %v", err)
				}
			}
			awaitReleases(t, st)
			srv.stop()
			var errs, oks int
			for range 20 {
				if err := admit(); err != nil {
					if !errors.Is(err, ErrUnavailable) {
						t.Fatalf("with Redis down: %v; want nil or ErrUnavailable", err)
					}
					errs++
				} else {
					oks++
				}
			}
			switch mode {
			case Closed:
				if oks != 0 {
					t.Errorf("closed mode admitted %d calls without Redis", oks)
				}
			default:
				if errs != 0 {
					t.Errorf("%v mode refused %d calls without Redis", mode, errs)
				}
			}
			stats := st.Stats()
			if !stats.Down || stats.Outages != 1 {
				t.Errorf("stats %+v; want Down and one outage", stats)
			}
			if mode != Closed && stats.Fallbacks == 0 {
				t.Errorf("stats %+v; want fallbacks counted", stats)
			}
			if !strings.Contains(log.String(), "redis is not answering") {
				t.Errorf("no warning logged: %q", log.String())
			}
			// The warning names the cause, not the call timeout that
			// go-redis's dial retries used to run out.
			if !strings.Contains(log.String(), "connection refused") {
				t.Errorf("the warning does not name the cause (connection refused): %q", log.String())
			}
			srv.start()
			before := st.Stats().Admissions
			deadline := time.Now().Add(3 * time.Second)
			for st.Stats().Admissions == before && time.Now().Before(deadline) {
				_ = admit()
				time.Sleep(20 * time.Millisecond)
			}
			if st.Stats().Admissions == before || st.Stats().Down {
				t.Errorf("stats %+v; want admissions through Redis again", st.Stats())
			}
			if !strings.Contains(log.String(), "answers again") {
				t.Errorf("no recovery logged: %q", log.String())
			}
		})
	}
}

// Redis is found back within a retry period with nothing asked of it
// meanwhile: in Closed mode the first call after an outage is admitted,
// not refused for an outage that has ended. An outside review: a quiet
// proxy refused one client after each outage, which then waited 5 s.
func TestClosedModeFindsRedisBackWithoutACall(t *testing.T) {
	srv := startServer(t)
	st := newTestStore(t, srv.addr, uniquePrefix(t), Options{
		Mode: Closed, CallTimeout: 100 * time.Millisecond, RetryEvery: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	g := sluice.Limits{Rate: sluice.PerSecond(200), Concurrency: 4, Store: st}.NewGate()
	admit := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		p, err := g.Acquire(ctx, sluice.Cost{})
		if err == nil {
			p.Done(sluice.Outcome{})
		}
		return err
	}
	if err := admit(); err != nil {
		t.Fatalf("with Redis up: %v", err)
	}
	awaitReleases(t, st)
	srv.stop()
	if err := admit(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("with Redis down: %v; want ErrUnavailable", err)
	}
	srv.start()
	// Nothing is asked of the store until it says Redis is back: only
	// its own probes can find it.
	deadline := time.Now().Add(5 * time.Second)
	for st.Stats().Down && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st.Stats().Down {
		t.Fatalf("Redis back for 5 s with retries every 100 ms, and the store still finds it down")
	}
	if err := admit(); err != nil {
		t.Errorf("the first call after the outage: %v; want it admitted", err)
	}
}

// SCRIPT FLUSH mid-run (as after a restart or failover) costs no
// admission: the scripts are sent again.
func TestScriptFlushMidRun(t *testing.T) {
	srv := startServer(t)
	st := newTestStore(t, srv.addr, uniquePrefix(t), Options{})
	g := sluice.Limits{Rate: sluice.PerSecond(1000), Concurrency: 4, Store: st}.NewGate()
	c := dialTest(t, srv.addr)
	for i := range 30 {
		if i%10 == 5 {
			if err := c.ScriptFlush(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
		}
		p, err := g.Acquire(context.Background(), sluice.Cost{})
		if err != nil {
			t.Fatalf("admission %d after SCRIPT FLUSH: %v", i, err)
		}
		p.Done(sluice.Outcome{})
	}
	if s := st.Stats(); s.Fallbacks != 0 || s.Errors != 0 || s.Admissions != 30 {
		t.Errorf("stats %+v; want 30 admissions through Redis, no error", s)
	}
}

// In Local mode the fallback limits are this process's share: with two
// processes seen, each keeps half the rate.
func TestLocalFallbackKeepsThisProcessShare(t *testing.T) {
	srv := startServer(t)
	prefix := uniquePrefix(t)
	l := sluice.Limits{Rate: sluice.PerSecond(20), Concurrency: 4}
	a := newTestStore(t, srv.addr, prefix, Options{CallTimeout: 100 * time.Millisecond, RetryEvery: time.Minute})
	b := newTestStore(t, srv.addr, prefix, Options{CallTimeout: 100 * time.Millisecond, RetryEvery: time.Minute})
	la, lb := l, l
	la.Store, lb.Store = a, b
	ga, gb := la.NewGate(), lb.NewGate()
	for _, g := range []*sluice.Gate{ga, gb, ga} { // a then sees two processes
		p, err := g.Acquire(context.Background(), sluice.Cost{})
		if err != nil {
			t.Fatal(err)
		}
		p.Done(sluice.Outcome{})
	}
	srv.stop()
	start := time.Now()
	for range 6 {
		p, err := ga.Acquire(context.Background(), sluice.Cost{})
		if err != nil {
			t.Fatal(err)
		}
		p.Done(sluice.Outcome{})
	}
	// At 10/s (half of 20/s, with the margin), 6 calls take at least 5
	// intervals of ~100ms; at the whole 20/s they would take 250ms.
	if d := time.Since(start); d < 450*time.Millisecond {
		t.Errorf("6 calls in %v without Redis; want this process's half of the rate (>= 500ms)", d)
	}
}

// Falling back adds no burst on top of what Redis admitted: the local
// limits start spent, so a window Redis may have filled is not filled
// again at once (the burst of violations seen in redisbench before).
func TestFallbackStartsSpent(t *testing.T) {
	srv := startServer(t)
	st := newTestStore(t, srv.addr, uniquePrefix(t), Options{CallTimeout: 100 * time.Millisecond, RetryEvery: time.Minute})
	g := sluice.Limits{Window: sluice.Rate{N: 4, Per: 400 * time.Millisecond}, Concurrency: 8, Store: st}.NewGate()
	p, err := g.Acquire(context.Background(), sluice.Cost{})
	if err != nil {
		t.Fatal(err)
	}
	p.Done(sluice.Outcome{})
	srv.stop()
	start := time.Now()
	p, err = g.Acquire(context.Background(), sluice.Cost{})
	if err != nil {
		t.Fatal(err)
	}
	p.Done(sluice.Outcome{})
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("first admission without Redis after %v; want the local window to start full (>= 400ms)", d)
	}
}

// For a while after Redis returns, a process keeps to its local share as
// well: the others may still be on theirs, and a restarted Redis starts
// afresh.
func TestAfterAnOutageLocalShareStillHolds(t *testing.T) {
	srv := startServer(t)
	prefix := uniquePrefix(t)
	l := sluice.Limits{Rate: sluice.PerSecond(20), Concurrency: 4}
	a := newTestStore(t, srv.addr, prefix, Options{CallTimeout: 100 * time.Millisecond, RetryEvery: 300 * time.Millisecond})
	b := newTestStore(t, srv.addr, prefix, Options{CallTimeout: 100 * time.Millisecond, RetryEvery: 300 * time.Millisecond})
	la, lb := l, l
	la.Store, lb.Store = a, b
	ga, gb := la.NewGate(), lb.NewGate()
	for _, g := range []*sluice.Gate{ga, gb, ga} { // a sees two processes
		p, err := g.Acquire(context.Background(), sluice.Cost{})
		if err != nil {
			t.Fatal(err)
		}
		p.Done(sluice.Outcome{})
	}
	srv.stop()
	p, err := ga.Acquire(context.Background(), sluice.Cost{}) // falls back
	if err != nil {
		t.Fatal(err)
	}
	p.Done(sluice.Outcome{})
	srv.start()
	// An admission starts a probe once per retry period, off its path;
	// the probe finds Redis back.
	for deadline := time.Now().Add(5 * time.Second); a.Stats().Down; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v; want Redis back", a.Stats())
		}
		p, err = ga.Acquire(context.Background(), sluice.Cost{})
		if err != nil {
			t.Fatal(err)
		}
		p.Done(sluice.Outcome{})
	}
	// Redis (restarted, empty) alone would admit 5 at 20/s in ~200ms; the
	// local half-share (10/s) as well makes it at least ~400ms.
	start := time.Now()
	for range 5 {
		p, err := ga.Acquire(context.Background(), sluice.Cost{})
		if err != nil {
			t.Fatal(err)
		}
		p.Done(sluice.Outcome{})
	}
	if d := time.Since(start); d < 380*time.Millisecond {
		t.Errorf("5 calls right after Redis returned took %v; want this process's local share kept too (>= 400ms)", d)
	}
	if got := a.Stats().Admissions; got < 5 {
		t.Errorf("stats %+v; want the admissions through Redis", a.Stats())
	}
}
