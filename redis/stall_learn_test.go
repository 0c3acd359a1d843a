package redis

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// throttled returns a strict API's 429 that asks for a short cool-down
// and says nothing of its limits.
func throttled() sluice.Outcome {
	info := sluice.ParseRateLimitHeaders(http.Header{"Retry-After-Ms": {"100"}}, time.Now())
	return sluice.Outcome{Class: sluice.ClassThrottled, RateLimit: &info}
}

// calls admits n calls through g, each ended with o.
func calls(t *testing.T, g *sluice.Gate, n int, o sluice.Outcome) {
	t.Helper()
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		p, err := g.Acquire(ctx, sluice.Cost{})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		p.Done(o)
	}
}

// The 429s of calls admitted while Redis did not answer (the local
// shares of Local mode) or in the grace after it are the hand-over's, not
// the API's word on its pace: they teach no pace, in this process or in
// Redis. An outside review froze Redis (SIGSTOP) for 8s under two
// proxies at a given 10/s: the 1-2 calls over a strict window cut the
// pace to 3.76/s and 4.0/s, and 7.39/s stayed in Redis for an hour.
func TestStallAndRecovery429sTeachNoPace(t *testing.T) {
	srv := startServer(t)
	prefix := uniquePrefix(t)
	opt := Options{CallTimeout: 100 * time.Millisecond, RetryEvery: 300 * time.Millisecond, Processes: 2,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	st := newTestStore(t, srv.addr, prefix, opt)
	g := sluice.Limits{Rate: sluice.PerSecond(100), Concurrency: 4, Store: st}.NewGate()
	calls(t, g, 3, sluice.Outcome{})
	awaitReleases(t, st)

	srv.pause()
	resumed := false
	defer func() {
		if !resumed {
			srv.resume()
		}
	}()
	for range 2 {
		calls(t, g, 4, sluice.Outcome{}) // the first falls back, after the call timeout
		calls(t, g, 1, throttled())
		if r := g.LearnedRate(); !r.IsZero() {
			t.Fatalf("learned %v from the 429 of a call admitted while Redis did not answer; want none", r)
		}
	}
	if !st.Stats().Down {
		t.Fatalf("stats %+v; want Redis down", st.Stats())
	}
	srv.resume()
	resumed = true
	for deadline := time.Now().Add(5 * time.Second); st.Stats().Down; {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v; want Redis back", st.Stats())
		}
		calls(t, g, 1, sluice.Outcome{})
	}
	// In the grace: this process keeps its local share as well.
	calls(t, g, 3, sluice.Outcome{})
	calls(t, g, 1, throttled())
	if r := g.LearnedRate(); !r.IsZero() {
		t.Errorf("learned %v from the 429 of a call admitted in the grace after the outage; want none", r)
	}
	c := dialTest(t, srv.addr)
	if v, err := c.HGetAll(context.Background(), newKeys(st.tag(), "").learned).Result(); err != nil || len(v) > 0 {
		t.Errorf("Redis holds learned paces %v (%v); want none", v, err)
	}
}

// A pace one process learned from 429s is kept in Redis as such, and a
// process that only follows it there (another, or one restarted since)
// paces by it as its own: its LearnedRate says it (an outside review:
// the restarted proxies' sluice_proxy_learned_rate_per_second read 0
// while they followed 7.39/s of a given 10/s), and it climbs it back.
func TestPaceOf429InRedisIsFollowedByAFreshProcess(t *testing.T) {
	addr := sharedAddr(t)
	prefix := uniquePrefix(t)
	l := sluice.Limits{Rate: sluice.PerSecond(100), Concurrency: 4}
	la, lb := l, l
	la.Store = newTestStore(t, addr, prefix, Options{})
	a := la.NewGate()
	for range 2 { // the first 429 under the given rate is forgiven
		calls(t, a, 5, sluice.Outcome{})
		calls(t, a, 1, throttled())
		time.Sleep(120 * time.Millisecond) // the cool-down
	}
	learned := a.LearnedRate()
	if learned.IsZero() || learned.PerSec() >= 100 {
		t.Fatalf("a learned %v from two 429s; want a pace below the given 100/s", learned)
	}
	c := dialTest(t, addr)
	key := newKeys(la.Store.(*Store).tag(), "").learned
	if src, err := c.HGet(context.Background(), key, "r:src").Result(); err != nil || src != "429" {
		t.Errorf("r:src of the learned pace is %q (%v); want 429", src, err)
	}

	lb.Store = newTestStore(t, addr, prefix, Options{}) // a process started since
	b := lb.NewGate()
	calls(t, b, 1, sluice.Outcome{})
	if got := b.LearnedRate().PerSec(); got < learned.PerSec()*0.999 || got > learned.PerSec()*1.001 {
		t.Errorf("the fresh process's LearnedRate is %.3f/s; want the %.3f/s it follows in Redis", got, learned.PerSec())
	}
	if got := b.Stats().Learned.PerSec(); got < learned.PerSec()*0.999 {
		t.Errorf("the fresh process's Stats().Learned is %.3f/s; want %.3f/s", got, learned.PerSec())
	}
}

// Every process climbs a pace from 429s it follows, and shares each
// climb: a climb from a pace another process has cut since leaves the
// cut, which the climber follows at its next admission; a cut, or a
// climb from the pace kept, is kept.
func TestClimbFromAPaceCutSinceLeavesTheCut(t *testing.T) {
	addr := sharedAddr(t)
	st := newTestStore(t, addr, uniquePrefix(t), Options{})
	g := st.Share("", sluice.Limits{Rate: sluice.PerSecond(100), Concurrency: 4}).(*shared)
	c := dialTest(t, addr)
	for i, step := range []struct {
		rate, was float64 // calls a second; was 0: none known
		want      float64 // the pace kept after
	}{
		{50, 0, 50},  // the first cut
		{40, 50, 40}, // another cut
		{60, 50, 40}, // a climb from 50, cut since to 40: the cut stands
		{45, 40, 45}, // a climb from the pace kept
		{30, 60, 30}, // a cut always stands
	} {
		was := sluice.Rate{}
		if step.was > 0 {
			was = sluice.PerSecond(step.was)
		}
		g.Learn429(sluice.Limits{Rate: sluice.PerSecond(step.rate)}, was)
		v, err := c.HMGet(context.Background(), g.keys.learned, "r:iv", "r:src").Result()
		if err != nil {
			t.Fatal(err)
		}
		iv, _ := v[0].(string)
		f, _ := strconv.ParseFloat(iv, 64)
		if got := 1e6 / f; got < step.want*0.999 || got > step.want*1.001 || v[1] != "429" {
			t.Errorf("step %d: %.0f/s shared from %.0f/s: Redis keeps %.3f/s (r:src %v); want %.0f/s from 429s", i, step.rate, step.was, got, v[1], step.want)
		}
	}
}
