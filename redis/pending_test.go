package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice"
)

// A refused admission is told when the call that makes room leaves the
// window. Calls pending (admit.lua) count in every window and leave a
// window after they are dated, which is now at the earliest: they leave
// after the calls started by now and before the starts reserved ahead,
// and the wait they give is a window, never their horizon (the caller
// asks again then).
func TestAdmitWaitsForTheCallThatMakesRoom(t *testing.T) {
	const ms = time.Millisecond
	for _, c := range []struct {
		name     string
		n        int
		started  []time.Duration // before now
		pending  int
		reserved []time.Duration // after now
		lapsed   []time.Duration // pending whose horizon was this long ago
		want     func(window time.Duration) time.Duration
	}{
		{name: "a start leaves first", n: 3, started: []time.Duration{500 * ms}, pending: 2,
			want: func(w time.Duration) time.Duration { return w - 500*ms }},
		{name: "all pending: a window", n: 3, pending: 3,
			want: func(w time.Duration) time.Duration { return w }},
		{name: "the pending before a reservation", n: 3, started: []time.Duration{500 * ms}, pending: 1,
			reserved: []time.Duration{30 * ms}, want: func(w time.Duration) time.Duration { return w - 500*ms }},
		{name: "the second: pending", n: 2, started: []time.Duration{500 * ms}, pending: 1,
			reserved: []time.Duration{30 * ms}, want: func(w time.Duration) time.Duration { return w }},
		{name: "the third: the reservation", n: 1, started: []time.Duration{500 * ms}, pending: 1,
			reserved: []time.Duration{30 * ms}, want: func(w time.Duration) time.Duration { return w + 30*ms }},
		// Its process died: it counts as started at its horizon.
		{name: "a lapsed pending call", n: 1, lapsed: []time.Duration{300 * ms},
			want: func(w time.Duration) time.Duration { return w - 300*ms }},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := newTestStore(t, sharedAddr(t), uniquePrefix(t), Options{})
			g := st.Share("", sluice.Limits{Window: sluice.Rate{N: float64(c.n), Per: time.Second}}).(*shared)
			rc := st.client.(goredis.Cmdable)
			ctx := context.Background()
			now, err := rc.Time(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			var window, pending []goredis.Z
			for i, d := range c.started {
				window = append(window, goredis.Z{Score: float64(now.Add(-d).UnixMicro()), Member: fmt.Sprint("s", i)})
			}
			for i, d := range c.reserved {
				window = append(window, goredis.Z{Score: float64(now.Add(d).UnixMicro()), Member: fmt.Sprint("r", i)})
			}
			for i := range c.pending {
				pending = append(pending, goredis.Z{Score: float64(now.Add(DefaultLeaseTTL).UnixMicro()), Member: fmt.Sprint("p", i)})
			}
			for i, d := range c.lapsed {
				pending = append(pending, goredis.Z{Score: float64(now.Add(-d).UnixMicro()), Member: fmt.Sprint("l", i)})
			}
			if len(window) > 0 {
				rc.ZAdd(ctx, g.keys.window, window...)
			}
			if len(pending) > 0 {
				rc.ZAdd(ctx, g.keys.pending, pending...)
			}
			tk, wait, err := g.Admit(ctx, sluice.Cost{})
			if err != nil || tk != nil {
				t.Fatalf("Admit = %v, %v, %v; want refused", tk, wait, err)
			}
			// The script reads the server's clock a little after now: a
			// start leaves that much sooner, a pending call does not.
			want := c.want(time.Duration(g.config().windowUs) * time.Microsecond)
			if wait > want+ms || wait < want-50*ms {
				t.Errorf("told to wait %v, want %v (rounded up to the ms, less what the script came after now)", wait, want)
			}
		})
	}
}

// A call is dated when its request left, not when the script that dates
// it runs: batched, lingering, or behind a slow answer, the script comes
// later. Never before it left, either: the script subtracts how long ago
// it was sent, measured by the sender until the script left.
func TestSentDatesACallWhenItLeft(t *testing.T) {
	st := newTestStore(t, sharedAddr(t), uniquePrefix(t), Options{})
	g := st.Share("", sluice.Limits{Window: sluice.Rate{N: 10, Per: time.Second}}).(*shared)
	rc := st.client.(goredis.Cmdable)
	ctx := context.Background()
	rc.ZAdd(ctx, g.keys.pending, goredis.Z{Score: float64(time.Now().Add(time.Minute).UnixMicro()), Member: "a:1"},
		goredis.Z{Score: float64(time.Now().Add(time.Minute).UnixMicro()), Member: "b:1"})
	left := time.Now().Add(-300 * time.Millisecond)
	st.runSent([]sentCall{{g: g, id: "a", wn: 1, at: left}, {g: g, id: "gone", wn: 1, at: left}})
	answered := time.Now()
	got, err := rc.ZRangeWithScores(ctx, g.keys.window, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Member != "a:1" {
		t.Fatalf("window %v, want a:1 alone (b:1 was not sent, gone:1 is not pending)", got)
	}
	at := time.UnixMicro(int64(got[0].Score))
	if at.Before(left.Add(-time.Microsecond)) || at.After(answered.Add(-300*time.Millisecond)) {
		t.Errorf("dated %v after it left, want from 0 to the script's way there (%v at most)", at.Sub(left), answered.Sub(left)-300*time.Millisecond)
	}
	if n := zcard(t, st, g.keys.pending); n != 1 {
		t.Errorf("%d pending, want b:1 alone", n)
	}
}
