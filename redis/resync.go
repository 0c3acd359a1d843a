package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
)

// After an outage the processes do not come back to Redis together: each
// probes on its own, once per RetryEvery, and one holding calls but
// asking nothing finds Redis back at its next renewal. Meanwhile the
// calls of the processes still on their local shares are in flight
// without leases in Redis (a restarted Redis has none; a stalled one
// reaped them), and a process back on Redis alone would take their
// slots. So a process that finds Redis back (or finds that Redis lost
// what it kept: a restart noticed by nobody, see admit.lua's status 4):
//
//   - puts its own leases back before its next admission asks (resync:
//     a renewal in line, once), so that Redis counts its calls in flight
//     before it admits against them; the renewal loop is told to renew
//     at once too, for the gates nobody admits through;
//   - keeps to its local share as well as to Redis for a grace, until
//     the others have had the time to come back and put theirs back
//     (their next probe, or their next renewal): taken first, in memory,
//     and given back if Redis refuses. Then the local limits are dropped.
//
// The grace makes the processes together keep the limit while they come
// back as they kept it during the outage (slots.go).

// grace is how long a process keeps to its local share after Redis is
// back: two probes of the others, or a renewal of theirs and its way.
func (s *Store) grace() time.Duration {
	return max(2*s.opt.RetryEvery, s.opt.LeaseTTL/3+s.opt.CallTimeout)
}

// rejoin starts each gate's resync and grace: Redis is back, or lost
// what it kept. The grace's limits are those of the outage, or made now,
// from what Redis said before it went away or lost its state: what it
// says until every process has put its leases back is short of theirs,
// and a share of slots taken from it would count theirs free.
func (s *Store) rejoin() {
	s.rejoined.Store(time.Now().UnixNano())
	until := time.Now().Add(s.grace())
	s.mu.Lock()
	for _, g := range s.gates {
		g.localLimits() // first: an earlier grace's are dropped
		g.mu.Lock()
		g.graceUntil = until
		g.handoverUntil = until.Add(g.cfg.period())
		g.resyncWant++
		g.mu.Unlock()
	}
	s.mu.Unlock()
	select {
	case s.renewNow <- struct{}{}:
	default: // one is asked already
	}
}

// lost handles an answer saying that Redis no longer counts this process
// though it did less than a minute ago: the server lost the store's
// state, the leases of every call in flight with it.
func (s *Store) lost() {
	if at := s.rejoined.Load(); at != 0 && time.Since(time.Unix(0, at)) < s.grace() {
		// Back from an outage a moment ago: a restart is what it was,
		// already warned of.
		s.rejoin()
		return
	}
	s.opt.Logger.Warn("sluice: redis lost the shared state (restarted empty?); leases are put back", "store", s.name, "redis", s.where())
	s.rejoin()
}

// answered records that a script counted this process among those
// sharing (admit.lua, renew.lua).
func (s *Store) answered() { s.lastAnswer.Store(time.Now().UnixNano()) }

// known returns 1 when a script counted this process less than 50s ago,
// so that Redis, which forgets a process after a minute, must still
// count it (admit.lua's status 4); else 0.
func (s *Store) known() int {
	at := s.lastAnswer.Load()
	if at != 0 && time.Since(time.Unix(0, at)) < 50*time.Second {
		return 1
	}
	return 0
}

// resyncFirst puts this gate's leases back when Redis may have lost
// them, before an admission asks. Admissions of other gates sharing it
// wait meanwhile.
func (g *shared) resyncFirst(ctx context.Context) error {
	g.mu.Lock()
	due := g.resyncWant != g.resyncDone
	g.mu.Unlock()
	if !due {
		return nil
	}
	g.resyncMu.Lock()
	defer g.resyncMu.Unlock()
	return g.renew(ctx, true)
}

// renew pushes back the expiry of the leases this gate holds and the
// horizon of its calls pending in a window, putting back those Redis
// lost (renew.lua), and reports Redis's answer to the store. When
// resync, it also marks done the resync asked before it listed them,
// even with nothing to renew.
func (g *shared) renew(ctx context.Context, resync bool) error {
	s := g.s
	g.mu.Lock()
	want := g.resyncWant
	g.mu.Unlock()
	leases, pending := g.leaseMembers(), g.pendingMembers()
	if len(leases)+len(pending) > 0 {
		own := len(leases)
		args := make([]any, 0, 5+len(leases)+len(pending))
		args = append(args, int64(s.opt.LeaseTTL/time.Microsecond), g.config().windowUs, s.proc, s.known(), len(leases))
		args = append(append(args, leases...), pending...)
		keys := []string{g.keys.leases, g.keys.pending, g.keys.procs}
		sent := time.Now()
		v, err := s.run(ctx, renewScript, keys, args...)
		if err != nil {
			return err
		}
		r, ok := v.([]any)
		if !ok || len(r) < 3 {
			return fmt.Errorf("redis: renew answered %v", v)
		}
		s.answered()
		s.up(0)
		if asInt(r[1]) == 1 {
			s.lost() // its leases are back; the others' may not be yet
		} else {
			g.mu.Lock()
			g.observe(sent, int(asInt(r[2])), own, 0)
			g.mu.Unlock()
		}
	}
	if resync {
		g.mu.Lock()
		if want > g.resyncDone {
			g.resyncDone = want
		}
		g.mu.Unlock()
	}
	return nil
}

// takeGrace takes c from the local limits while the grace lasts. It
// returns the limits taken and their marks, or the wait they ask.
func (g *shared) takeGrace(c sluice.Cost) ([]sluice.Limit, []int64, time.Duration) {
	g.mu.Lock()
	until := g.graceUntil
	if !until.IsZero() && time.Now().After(until) {
		g.local, g.graceUntil = nil, time.Time{}
		until = time.Time{}
	}
	g.mu.Unlock()
	if until.IsZero() {
		return nil, nil, 0 // no outage behind
	}
	local := g.localLimits()
	marks := make([]int64, len(local))
	for i, l := range local {
		wait, mark := l.Take(c, time.Time{}, 0)
		if wait != 0 {
			untakeAll(local[:i], c, marks)
			if wait == sluice.WaitForChange {
				wait = concurrencyBackstop
			}
			return nil, nil, wait
		}
		marks[i] = mark
	}
	return local, marks, 0
}

// untakeAll gives back what takeGrace or fallback took.
func untakeAll(ls []sluice.Limit, c sluice.Cost, marks []int64) {
	for i := len(ls) - 1; i >= 0; i-- {
		ls[i].Untake(c, marks[i])
	}
}
