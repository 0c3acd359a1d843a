package batch

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/input"
)

func crewItems(n int) func(func(input.Item) bool) {
	return func(yield func(input.Item) bool) {
		for i := range n {
			if !yield(input.Item{ID: fmt.Sprint(i), Line: i + 1}) {
				return
			}
		}
	}
}

// TestCrewBackoffLeavesNoSlotIdle protects issue 15's worker design: with
// one worker a slot, an item waiting between attempts must not keep the
// others from its slot. Item 0 fails an attempt and then waits until the
// other items are done; with one slot and no spare worker they could never
// be (synctest reports the deadlock).
func TestCrewBackoffLeavesNoSlotIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var others atomic.Int64
		call := func(ctx context.Context, it input.Item) (response, error) {
			if it.ID != "0" {
				time.Sleep(10 * time.Millisecond)
				if others.Add(1) == 9 {
					close(release)
				}
				return response{status: 200}, nil
			}
			ic := ctx.Value(itemCallKey{}).(*itemCall)
			ic.attemptFailed() // as watchedBase says after a 503
			<-release          // backing off
			ic.goingOn()       // the next attempt goes
			return response{status: 200}, nil
		}
		var got []string
		for o := range runCrew(t.Context(), 1, false, crewItems(10), call) {
			got = append(got, o.Item.ID)
		}
		if len(got) != 10 || got[9] != "0" {
			t.Errorf("outcomes %v: want the other 9 items done while item 0 waited, then item 0", got)
		}
	})
}

// TestCrewSparesEnd checks that the crew runs one worker a slot when no
// item waits between attempts, and that spares end once none does.
func TestCrewSparesEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const slots = 4
		var most atomic.Int64
		call := func(ctx context.Context, it input.Item) (response, error) {
			ic := ctx.Value(itemCallKey{}).(*itemCall)
			c := ic.crew
			if it.Line%7 == 0 {
				ic.attemptFailed()
				time.Sleep(50 * time.Millisecond)
				ic.goingOn()
			}
			time.Sleep(time.Millisecond)
			c.mu.Lock()
			most.Store(max(most.Load(), int64(c.running)))
			c.mu.Unlock()
			return response{}, nil
		}
		n := 0
		for range runCrew(t.Context(), slots, false, crewItems(100), call) {
			n++
		}
		if n != 100 {
			t.Fatalf("%d outcomes, want 100", n)
		}
		if m := most.Load(); m <= slots || m > 2*slots {
			t.Errorf("at most %d workers at once; want spares (more than %d) and no more than %d", m, slots, 2*slots)
		}
		// Without waits, exactly one worker a slot.
		most.Store(0)
		plain := func(ctx context.Context, it input.Item) (response, error) {
			c := ctx.Value(itemCallKey{}).(*itemCall).crew
			time.Sleep(time.Millisecond)
			c.mu.Lock()
			most.Store(max(most.Load(), int64(c.running)))
			c.mu.Unlock()
			return response{}, nil
		}
		for range runCrew(t.Context(), slots, false, crewItems(100), plain) {
		}
		if m := most.Load(); m != slots {
			t.Errorf("%d workers at once without waits; want %d", m, slots)
		}
	})
}

// TestCrewOrdered checks that ordered outcomes come in input order.
func TestCrewOrdered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		call := func(ctx context.Context, it input.Item) (response, error) {
			time.Sleep(time.Duration(10-it.Line%10) * time.Millisecond)
			return response{}, nil
		}
		var got []int
		for o := range runCrew(t.Context(), 3, true, crewItems(50), call) {
			got = append(got, o.Item.Line)
		}
		if !slices.IsSorted(got) || len(got) != 50 {
			t.Errorf("ordered outcomes %v: want lines 1..50 in order", got)
		}
	})
}

type statusBase int

func (s statusBase) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: int(s), Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// TestWatchedBaseCountsItemsBetweenAttempts checks that an attempt the
// Transport retries counts its item as waiting, and the next attempt, or
// the end of the call, as going on; a success or a 404 does not count.
func TestWatchedBaseCountsItemsBetweenAttempts(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   int
	}{{200, 0}, {404, 0}, {429, 1}, {503, 1}, {500, 1}} {
		c := &crew{slots: 1, running: 2} // as if a spare ran: no goroutine started
		ic := &itemCall{Context: context.Background(), crew: c}
		req, _ := http.NewRequestWithContext(ic, "GET", "http://api.test/", nil)
		watch(statusBase(tc.status), sluice.Limits{}).RoundTrip(req)
		if c.between != tc.want {
			t.Errorf("after a %d: %d items between attempts, want %d", tc.status, c.between, tc.want)
		}
		watch(statusBase(200), sluice.Limits{}).RoundTrip(req)
		if c.between != 0 {
			t.Errorf("after a %d and a retry: %d items between attempts, want 0", tc.status, c.between)
		}
	}
}
