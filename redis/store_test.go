package redis

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/apitest"
)

// testClient keeps its connections, so that a call's arrival at the
// judge is not delayed by a new connection's handshake.
var testClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// call sends one admitted call to url and finishes its permit.
func call(t testing.TB, g *sluice.Gate, url string) error {
	p, err := g.Acquire(context.Background(), sluice.Cost{})
	if err != nil {
		return err
	}
	defer p.Done(sluice.Outcome{})
	resp, err := testClient.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// K stores (as K processes would have) with several callers each, asking
// one shared window and concurrency directly, never exceed either: judged
// exactly on the starts the server recorded, and at a strict loopback
// server for calls in flight.
func TestGoroutinesSharingALimitNeverExceedIt(t *testing.T) {
	addr := sharedAddr(t)
	prefix := uniquePrefix(t)
	srv := newStrictServer(t, 5*time.Millisecond)
	limits := sluice.Limits{Window: sluice.Rate{N: 20, Per: 250 * time.Millisecond}, Concurrency: 3}
	const k, callers, each = 4, 3, 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	var starts []time.Time // on the server's clock
	for range k {
		sh := newTestStore(t, addr, prefix, Options{}).Share("", limits)
		for range callers {
			wg.Go(func() {
				for range each {
					var tk sluice.Ticket
					for tk == nil {
						got, wait, err := sh.Admit(context.Background(), sluice.Cost{})
						if err != nil {
							t.Error(err)
							return
						}
						tk = got
						if tk == nil {
							select {
							case <-time.After(wait):
							case <-sh.Changed():
							}
						}
					}
					rt, ok := tk.(*ticket)
					if !ok {
						t.Errorf("admitted by %T, not through Redis", tk)
						return
					}
					mu.Lock()
					starts = append(starts, time.UnixMicro(rt.start))
					mu.Unlock()
					resp, err := testClient.Get(srv.URL)
					tk.Finish(sluice.Outcome{})
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
				}
			})
		}
	}
	wg.Wait()
	if got := srv.count(); got != k*callers*each {
		t.Fatalf("server saw %d calls; want %d", got, k*callers*each)
	}
	if got := apitest.BusiestWindow(slices.Clone(starts), 250*time.Millisecond); got > 20 {
		t.Errorf("the server recorded %d starts in a 250ms window; want at most 20", got)
	}
	if got := srv.mostInFlight(); got > 3 {
		t.Errorf("%d calls in flight at once; want at most 3", got)
	}
}

// A rate shared by K separate processes (this test binary, run again)
// holds at the server, and is used.
func TestProcessesSharingARateNeverExceedIt(t *testing.T) {
	if os.Getenv("SLUICE_REDIS_CHILD") != "" {
		t.Skip("a child run")
	}
	addr := sharedAddr(t)
	prefix := uniquePrefix(t)
	srv := newStrictServer(t, 0)
	const k, each = 3, 20
	var wg sync.WaitGroup
	start := time.Now()
	for range k {
		cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$")
		cmd.Env = append(os.Environ(), "SLUICE_REDIS_CHILD=rate", "SLUICE_CHILD_ADDR="+addr,
			"SLUICE_CHILD_PREFIX="+prefix, "SLUICE_CHILD_URL="+srv.URL, "SLUICE_CHILD_N="+strconv.Itoa(each))
		wg.Go(func() {
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("child: %v\n%s", err, out)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if got := srv.count(); got != k*each {
		t.Fatalf("server saw %d calls; want %d", got, k*each)
	}
	// Calls arrive a little after their admission, by a lag that varies
	// on a loaded machine; allowed 20ms of it, any window holds 50 at most.
	if got := srv.worstWindow(time.Second - 20*time.Millisecond); got > 50 {
		t.Errorf("a 980ms window held %d calls; want at most 50", got)
	}
	srv.mu.Lock()
	span := srv.arrivals[len(srv.arrivals)-1].Sub(srv.arrivals[0])
	srv.mu.Unlock()
	used := float64(k*each-1) / span.Seconds() / 50
	t.Logf("%d calls from %d processes in %v, %v from first to last arrival: %.2f of the limit used",
		k*each, k, elapsed, span, used)
	// Quiet, this is 0.95 or more (bench/cmd/redisbench measures it);
	// with the machine loaded by other builds, late wake-ups give their
	// slots back (lateStart): 0.78 was seen, and 0.60 once on a 2-core
	// machine shared with another session's reviews. Far less (a half)
	// means the processes hold each other back; the figure itself is
	// redisbench's to measure.
	if used < 0.5 {
		t.Errorf("%.2f of the shared 50/s used; want at least 0.5", used)
	}
}

// TestChildProcess is the body of a child process of the tests above.
func TestChildProcess(t *testing.T) {
	mode := os.Getenv("SLUICE_REDIS_CHILD")
	if mode == "" {
		t.Skip("run by the multi-process tests only")
	}
	addr, prefix := os.Getenv("SLUICE_CHILD_ADDR"), os.Getenv("SLUICE_CHILD_PREFIX")
	switch mode {
	case "rate":
		n, _ := strconv.Atoi(os.Getenv("SLUICE_CHILD_N"))
		st := newTestStore(t, addr, prefix, Options{})
		g := sluice.Limits{Rate: sluice.PerSecond(50), Concurrency: 4, Store: st}.NewGate()
		// Open the connections first: a dial delays a call's arrival,
		// which the judge would see as the calls after it bunching up.
		var warm sync.WaitGroup
		for range 4 {
			warm.Go(func() {
				if resp, err := testClient.Get(os.Getenv("SLUICE_CHILD_URL") + "/warm"); err == nil {
					resp.Body.Close()
				}
			})
		}
		warm.Wait()
		var wg sync.WaitGroup
		var mu sync.Mutex
		left := n
		for range 4 {
			wg.Go(func() {
				for {
					mu.Lock()
					if left == 0 {
						mu.Unlock()
						return
					}
					left--
					mu.Unlock()
					if err := call(t, g, os.Getenv("SLUICE_CHILD_URL")); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if s := st.Stats(); s.Fallbacks != 0 || s.Admissions != int64(n) {
			t.Errorf("child stats %+v; want all %d admitted through Redis", s, n)
		}
	case "hold":
		st := newTestStore(t, addr, prefix, Options{LeaseTTL: time.Second})
		g := sluice.Limits{Concurrency: 1, FixedConcurrency: true, Store: st}.NewGate()
		if _, err := g.Acquire(context.Background(), sluice.Cost{}); err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("holding\n")
		time.Sleep(time.Minute) // until killed
	}
}

// A holder killed with SIGKILL loses its lease once it expires: the slot
// is not lost for good, and not freed before.
func TestKilledHolderLosesItsLeaseAfterExpiry(t *testing.T) {
	if os.Getenv("SLUICE_REDIS_CHILD") != "" {
		t.Skip("a child run")
	}
	addr := sharedAddr(t)
	prefix := uniquePrefix(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "SLUICE_REDIS_CHILD=hold", "SLUICE_CHILD_ADDR="+addr, "SLUICE_CHILD_PREFIX="+prefix)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var seen strings.Builder
	for !strings.Contains(seen.String(), "holding") {
		n, err := out.Read(buf)
		if err != nil {
			t.Fatalf("child ended before holding: %v\n%s", err, seen.String())
		}
		seen.Write(buf[:n])
	}
	cmd.Process.Kill() // SIGKILL: no release, no more renewal
	killed := time.Now()
	cmd.Wait()

	st := newTestStore(t, addr, prefix, Options{LeaseTTL: time.Second})
	g := sluice.Limits{Concurrency: 1, FixedConcurrency: true, Store: st}.NewGate()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := g.Acquire(ctx, sluice.Cost{})
	if err != nil {
		t.Fatalf("the dead holder's slot was never freed: %v", err)
	}
	p.Done(sluice.Outcome{})
	// The lease was last renewed at most a third of its ttl before the kill.
	if waited := time.Since(killed); waited < 500*time.Millisecond {
		t.Errorf("slot freed %v after the kill; want after the lease expired (>= 2/3 of 1s)", waited)
	}
}

// A cost no shared limit could ever admit is refused at once, clearly.
func TestCostBeyondCapacityIsRefusedAtOnce(t *testing.T) {
	addr := sharedAddr(t)
	st := newTestStore(t, addr, uniquePrefix(t), Options{})
	g := sluice.Limits{Concurrency: 100, Tokens: sluice.PerMinute(1000), Store: st}.NewGate()
	start := time.Now()
	_, err := g.Acquire(context.Background(), sluice.Cost{InputTokens: 900, OutputTokens: 200})
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, sluice.ErrTooLarge) {
		t.Fatalf("Acquire: %v; want ErrTooLarge, matching sluice.ErrTooLarge", err)
	}
	var tl *sluice.TooLargeError
	if !errors.As(err, &tl) || tl.Capacity.Asked(tl.Cost) != 1100 || tl.Capacity.Max != 1000 || tl.Capacity.Units() != "tokens" {
		t.Errorf("error %#v does not carry 1100 tokens asked of 1000", err)
	}
	if !strings.Contains(err.Error(), "asks 1100 tokens") || !strings.Contains(err.Error(), "(1000 at most)") {
		t.Errorf("error %q does not say what exceeds what", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refused after %v; want at once", d)
	}
}

// While Redis is down, Local mode's share of a token budget admitted a
// cost the whole budget could never hold, into a debt that held every
// later call back; it is refused at once, as Redis refuses it.
func TestCostBeyondCapacityIsRefusedWhileRedisIsDown(t *testing.T) {
	srv := startServer(t)
	st := newTestStore(t, srv.addr, uniquePrefix(t), Options{Mode: Local, CallTimeout: 100 * time.Millisecond, RetryEvery: time.Minute})
	g := sluice.Limits{Concurrency: 100, Tokens: sluice.PerMinute(1000), Store: st}.NewGate()
	srv.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := g.Acquire(ctx, sluice.Cost{InputTokens: 10})
	if err != nil {
		t.Fatalf("a small call with Redis down in local mode: %v", err)
	}
	p.Done(sluice.Outcome{})
	if !st.Stats().Down {
		t.Fatalf("stats %+v; want Redis seen down", st.Stats())
	}
	_, err = g.Acquire(ctx, sluice.Cost{InputTokens: 900, OutputTokens: 200})
	var tl *sluice.TooLargeError
	if !errors.Is(err, sluice.ErrTooLarge) || !errors.As(err, &tl) || tl.Capacity.Max != 1000 {
		t.Fatalf("Acquire of 1100 tokens of a 1000 budget with Redis down: %v; want ErrTooLarge naming 1000 at most", err)
	}
	p, err = g.Acquire(ctx, sluice.Cost{InputTokens: 10})
	if err != nil {
		t.Fatalf("the next small call: %v; want admitted: the refusal took nothing", err)
	}
	p.Done(sluice.Outcome{})
}

// Every key of a store carries its one hash tag, so Redis Cluster keeps
// them in one slot.
func TestKeysCarryOneHashTag(t *testing.T) {
	addr := sharedAddr(t)
	prefix := uniquePrefix(t)
	st := newTestStore(t, addr, prefix, Options{})
	g := sluice.Limits{Rate: sluice.PerSecond(1000), Window: sluice.PerSecond(1000), Tokens: sluice.PerSecond(1e6), Store: st}.NewGate()
	p, err := g.Acquire(context.Background(), sluice.Cost{InputTokens: 10})
	if err != nil {
		t.Fatal(err)
	}
	g.PauseUntil(time.Now().Add(50 * time.Millisecond))
	keys, err := dialTest(t, addr).Keys(context.Background(), "*"+prefix+"*").Result()
	p.Done(sluice.Outcome{})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 5 {
		t.Fatalf("found keys %v; want the pause, leases, window, processes, rate and tokens", keys)
	}
	tag := "{" + prefix + ":api}"
	for _, k := range keys {
		if !strings.HasPrefix(k, tag) || strings.Count(k, "{") != 1 {
			t.Errorf("key %q does not carry exactly the hash tag %s", k, tag)
		}
	}
}

// A reservation given up during its delay is given back: the next caller
// need not wait for it.
func TestCancelledReservationIsGivenBack(t *testing.T) {
	addr := sharedAddr(t)
	st := newTestStore(t, addr, uniquePrefix(t), Options{Ahead: time.Second})
	l := sluice.Limits{Rate: sluice.Rate{N: 1, Per: 500 * time.Millisecond}, Store: st}
	g := l.NewGate()
	p, err := g.Acquire(context.Background(), sluice.Cost{})
	if err != nil {
		t.Fatal(err)
	}
	p.Done(sluice.Outcome{})
	// The next slot is ~500ms ahead: reserved, then given up.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = g.Acquire(ctx, sluice.Cost{})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire: %v; want the deadline", err)
	}
	// Had it not been given back, the next slot would be ~1s after the first.
	start := time.Now()
	p, err = g.Acquire(context.Background(), sluice.Cost{})
	if err != nil {
		t.Fatal(err)
	}
	p.Done(sluice.Outcome{})
	if d := time.Since(start); d > 600*time.Millisecond {
		t.Errorf("next admission after %v; want within the first slot's 505ms (the reservation given back)", d)
	}
}

// Tokens estimated beyond use are refunded by the finish script.
func TestTokensAreSettled(t *testing.T) {
	addr := sharedAddr(t)
	st := newTestStore(t, addr, uniquePrefix(t), Options{})
	g := sluice.Limits{Concurrency: 10, Tokens: sluice.Rate{N: 1000, Per: 10 * time.Second}, Store: st}.NewGate()
	p, err := g.Acquire(context.Background(), sluice.Cost{InputTokens: 900})
	if err != nil {
		t.Fatal(err)
	}
	p.Done(sluice.Outcome{Usage: &sluice.Usage{InputTokens: 100}})
	// 800 refunded: 800 more fit at once (without the refund, ~8s away).
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	p, err = g.Acquire(ctx, sluice.Cost{InputTokens: 800})
	if err != nil {
		t.Fatalf("after a refund of 800: %v", err)
	}
	p.Done(sluice.Outcome{})
}
