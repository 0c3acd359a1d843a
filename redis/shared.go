package redis

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
)

// concurrencyBackstop is how long a caller refused a concurrency slot
// waits at most for the pub/sub message of a release before asking again:
// a message can be lost (a reconnect), a lease can expire unannounced.
const concurrencyBackstop = 200 * time.Millisecond

// shared is one gate's limits in Redis: a sluice.Shared.
type shared struct {
	s    *Store
	key  string
	keys keys

	mu     sync.Mutex
	cfg    config
	change chan struct{}    // closed on a release; made on demand
	held   map[string]lease // leases held, by admission id
	heldN  int              // their units, in all
	// pending holds the window weight of calls this process admitted
	// pending (admit.lua), by admission id, until they are dated: their
	// horizon is renewed with the leases.
	pending map[string]int
	// releasing holds a channel per release under way in the
	// background (ticket.release), closed when it is done.
	releasing map[chan struct{}]struct{}
	local     []sluice.Limit // Local mode's limits during an outage
	// graceUntil: after an outage, until then admissions keep to the
	// local limits as well as Redis's (see resync.go). handoverUntil:
	// until then, a period of the limits past the grace, the calls of
	// the outage and the grace may share an API window with a call
	// admitted now (ticket.Unshared).
	graceUntil, handoverUntil time.Time
	// paced429 is the request pace learned from 429s alone that Redis
	// held at its last grant, in calls a second as math.Float64bits; 0:
	// none (PaceOf429).
	paced429 atomic.Uint64
	// Redis may have lost this process's leases (it was away, or lost
	// its state) since the last resync asked (resyncWant) was done
	// (resyncDone): they are put back before the next admission asks,
	// one admission at a time (resyncMu; resync.go).
	resyncWant, resyncDone uint64
	resyncMu               sync.Mutex
	// view is what Redis last said of the shared concurrency, from
	// which Local mode takes its slots (slots.go).
	view view
	// pausedUntil is the end of the shared pause as an admission last
	// found it (or this process set it): what PausedUntil reports.
	pausedUntil time.Time

	// shares counts the gates this shared serves (Store.Share) less
	// those forgotten (Close); under the store's mu.
	shares int
}

// Close implements the io.Closer a Transport calls when it forgets a gate
// (sluice.Store): the last gate of the key gone, the store forgets it too,
// and stops listening to its release channel.
func (g *shared) Close() error {
	s := g.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.shares--; g.shares > 0 || s.gates[g.key] != g {
		return nil
	}
	delete(s.gates, g.key)
	if !s.closed && s.pubsub != nil {
		s.subscribe(g.keys.released, g.key)
	}
	return nil
}

func newShared(s *Store, key string, l sluice.Limits) *shared {
	g := &shared{s: s, key: key, keys: newKeys(s.tag(), key), held: make(map[string]lease), pending: make(map[string]int)}
	g.cfg = newConfig(l, g.keys)
	return g
}

// configure replaces the limits (a gate made again for the same key).
func (g *shared) configure(l sluice.Limits) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cfg = newConfig(l, g.keys)
	g.local = nil
}

func (g *shared) config() config {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cfg
}

// Admit implements sluice.Shared: one script call takes c from every
// shared limit or from none.
func (g *shared) Admit(ctx context.Context, c sluice.Cost) (sluice.Ticket, time.Duration, error) {
	for {
		t, wait, err, late := g.admit(ctx, c, false)
		if !late {
			return t, wait, err
		}
		// Woken too late for the slot Redis reserved: it was given
		// back, and a start now takes a slot of now (see lateStart).
		g.s.stats.lateRetakes.Add(1)
	}
}

// lateStart is how late after its reserved slot a call may still start
// in it. Redis reserves a slot up to Ahead before it comes, and the
// caller sleeps until then; a sleep that overruns (a loaded machine: 50
// to 150 ms were seen) and starts anyway sends the call late while the
// calls reserved after it go on time, so that the window beginning at
// the late one holds one call too many: the strict API answers 429. A
// call that wakes later than this gives its slot back and asks again, as
// a Gate's own limits judge a late waker by the time it wakes (maxLate
// in package sluice, the same 2 ms).
const lateStart = 2 * time.Millisecond

// admit asks Redis once, or twice when refused while releases of this
// process were under way (again: the second time). late reports a
// reservation woken too late to use, given back: the caller asks again.
func (g *shared) admit(ctx context.Context, c sluice.Cost, again bool) (_ sluice.Ticket, _ time.Duration, _ error, late bool) {
	s := g.s
	if !s.health.shouldTry() {
		if s.health.probeDue(s.opt.RetryEvery) {
			s.probe()
		}
		t, wait, err := g.fallback(ctx, c)
		return t, wait, err, false
	}
	if err := g.resyncFirst(ctx); err != nil {
		if cerr := callerEnded(ctx); cerr != nil {
			return nil, 0, cerr, false
		}
		g.down(err)
		t, wait, err := g.fallback(ctx, c)
		return t, wait, err, false
	}
	cfg := g.config()
	id := s.newID()
	n := max(c.Requests, 1)
	cn, wn := 0, 0
	if cfg.concurrency > 0 {
		cn = n
	}
	if cfg.windowN > 0 {
		wn = n
	}
	// A Transport's call counts in the window from when its request
	// leaves (sluice.SentTicket): taken pending, it counts in every
	// window until then, for at most a horizon its process renews.
	unsent := wn > 0 && c.Unsent()
	horizon := int64(0)
	if unsent {
		horizon = int64(s.opt.LeaseTTL / time.Microsecond)
	}
	keys := make([]string, 0, 10+len(cfg.pacers))
	keys = append(keys, g.keys.pause, g.keys.leases, g.keys.window, g.keys.procs, g.keys.learned)
	keys = append(keys, g.keys.learnedPaces[:]...)
	keys = append(keys, g.keys.pending)
	args := make([]any, 0, 15+3*len(cfg.pacers))
	args = append(args, id, s.proc, int64(s.opt.Ahead/time.Microsecond), int64(s.opt.LeaseTTL/time.Microsecond),
		cfg.concurrency, cn, cfg.windowN, cfg.windowUs, wn, len(cfg.pacers))
	costs := make([]int64, len(cfg.pacers))
	for i, p := range cfg.pacers {
		keys = append(keys, p.key)
		costs[i] = p.costUs(p.units(c))
		args = append(args, costs[i], p.tauUs, p.costUs(p.capacity))
	}
	args = append(args, n, tokensOf(sluice.AllTokens, c.InputTokens, c.OutputTokens),
		tokensOf(sluice.InputTokens, c.InputTokens, c.OutputTokens), tokensOf(sluice.OutputTokens, c.InputTokens, c.OutputTokens),
		horizon, s.known())
	own, ownMarks, wait := g.takeGrace(c)
	if wait != 0 {
		return nil, wait, nil, false
	}
	pending := g.releases()
	sent := time.Now()
	v, err := s.run(ctx, admitScript, keys, args...)
	if err != nil {
		untakeAll(own, c, ownMarks)
		if cerr := callerEnded(ctx); cerr != nil {
			// The script may have run, and taken a lease and a window
			// entry that nobody would release or renew: given back by
			// id, whether it ran or not (finish is idempotent). Its
			// pacers' charge stays: what it pushed their timelines to
			// is unknown, and a give-back without it could undo
			// another's.
			g.abandon(id, cn, wn, cfg.pacers)
			return nil, 0, cerr, false
		}
		g.down(err)
		t, wait, err := g.fallback(ctx, c)
		return t, wait, err, false
	}
	r, ok := v.([]any)
	if !ok || len(r) < 4 {
		return nil, 0, fmt.Errorf("redis: admit answered %v", v), false
	}
	status, value, procs, leases := asInt(r[0]), asInt(r[1]), asInt(r[2]), asInt(r[3])
	s.answered()
	g.up(int(procs))
	if status != 1 {
		untakeAll(own, c, ownMarks)
		g.heard(sent, int(leases), int(procs), status, value)
	}
	if status == 4 {
		// The server lost what it kept (a restart unnoticed between two
		// calls): this process puts its leases back, and asks again.
		// Whatever it asks next is counted: it is told only once.
		s.lost()
		if !again {
			return g.admit(ctx, c, true)
		}
	}
	if (status == 0 || status == 2) && len(pending) > 0 && !again {
		// Refused while this process's releases were on their way:
		// what they give back (a slot, a refund) may be what it
		// lacked. Asked again once they are done, as if they had
		// been sent in line; admissions granted never wait for them.
		if err := awaitAll(ctx, pending); err != nil {
			return nil, 0, err, false
		}
		return g.admit(ctx, c, true)
	}
	switch status {
	case -1:
		return nil, 0, g.tooLarge(cfg, c, value), false
	case 0, 3:
		return nil, roundUpMs(value), nil, false
	case 2, 4:
		return nil, g.s.backstop, nil, false
	}
	t := &ticket{g: g, id: id, cn: cn, cost: c, pacers: cfg.pacers, costs: costs, own: own, admitted: time.Now()}
	t.unshared = own != nil || g.handingOver(t.admitted)
	if unsent {
		t.pending, t.windowUs = wn, cfg.windowUs
	}
	if len(r) > 4 {
		t.start = asInt(r[4])
	}
	t.tats = make([]int64, len(cfg.pacers))
	for i := range t.tats {
		if 5+i < len(r) {
			t.tats[i] = asInt(r[5+i])
		}
	}
	if i := 5 + len(cfg.pacers); i < len(r) {
		g.heardPace(r[i])
	}
	if cn > 0 {
		g.hold(id, cn)
	}
	g.heard(sent, int(leases), int(procs), status, value)
	if unsent {
		g.pend(id, wn)
	}
	if err := ctx.Err(); err != nil {
		// Cancelled while the answer was on its way (the client ends a
		// read on a deadline, not on a cancel): the grant goes back.
		untakeAll(own, c, ownMarks)
		t.giveBack(wn)
		return nil, 0, err, false
	}
	if value > 0 {
		// The slot is value after Redis's clock read it: at the latest
		// now, by this process's clock.
		due := time.Now().Add(time.Duration(value) * time.Microsecond)
		if err := s.sleep(ctx, time.Until(due)); err != nil {
			untakeAll(own, c, ownMarks)
			t.giveBack(wn) // the reservation was never used
			return nil, 0, err, false
		}
		if time.Since(due) > lateStart {
			untakeAll(own, c, ownMarks)
			t.giveBack(wn)
			return nil, 0, nil, true
		}
	}
	s.stats.admissions.Add(1)
	return t, 0, nil, false
}

// tooLarge names the limit a cost can never fit: a *sluice.TooLargeError
// that matches ErrTooLarge and sluice.ErrTooLarge. The limit is named as
// its user knows it, by the store's name and the gate's key, not by the
// Redis key that keeps it, and with its rate as the gate gave it (the
// margin for processes, widen, left out).
func (g *shared) tooLarge(cfg config, c sluice.Cost, which int64) error {
	e := &sluice.TooLargeError{Cost: c, Err: ErrTooLarge}
	of := " (" + g.s.name
	if g.key != "" {
		of += ", " + g.key
	}
	of += ")"
	switch {
	case which == -1:
		e.Limit, e.Rate, e.Capacity.Max = "shared sliding window"+of, cfg.given.Window, int64(cfg.windowN)
	case which >= 1 && int(which) <= len(cfg.pacers):
		p := cfg.pacers[which-1]
		e.Capacity = sluice.Capacity{Max: p.capacity, Tokens: p.tokens, Kind: p.kind}
		e.Limit, e.Rate = "shared request rate"+of, p.rate(cfg.given)
		if p.tokens {
			e.Limit = "shared " + strings.TrimSuffix(p.kind.String(), "s") + " budget" + of
		}
	default:
		return ErrTooLarge
	}
	return e
}

// Changed implements sluice.Shared: closed on a release, by any process.
func (g *shared) Changed() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.change == nil {
		g.change = make(chan struct{})
	}
	return g.change
}

// notify wakes the callers waiting for a release.
func (g *shared) notify() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.change != nil {
		close(g.change)
		g.change = nil
	}
}

// Pause implements sluice.Shared: the pause is set on the server's clock,
// so clocks of other hosts do not matter.
func (g *shared) Pause(until time.Time) {
	d := time.Until(until)
	if d <= 0 || g.s.health.isDown() {
		return // every process pauses on its own 429s meanwhile
	}
	g.mu.Lock()
	if until.After(g.pausedUntil) {
		g.pausedUntil = until
	}
	g.mu.Unlock()
	if _, err := g.s.run(context.Background(), pauseScript, []string{g.keys.pause}, int64(d/time.Microsecond)); err != nil {
		g.down(err)
	}
}

// Learn implements sluice.Shared: the learned paces go under the gate's
// key, where every process's admissions keep them together.
func (g *shared) Learn(l sluice.Limits) { g.learn(l, false, sluice.Rate{}) }

// Learn429 is Learn for a request pace learned from 429s alone, which
// admit.lua tells every process so that each follows it as its own and
// climbs it back (sluice's learn_shared.go): the learner that set it may
// be gone. A climb from was, when Redis holds a slower pace than was
// since (another process's cut), leaves that cut (learn.lua).
func (g *shared) Learn429(l sluice.Limits, was sluice.Rate) { g.learn(l, true, was) }

// PaceOf429 returns the request pace learned from 429s alone that Redis
// held at its last grant to this process, the zero Rate when none.
func (g *shared) PaceOf429() sluice.Rate {
	r := math.Float64frombits(g.paced429.Load())
	if r <= 0 {
		return sluice.Rate{}
	}
	return sluice.PerSecond(r)
}

// heardPace records the pace from 429s a grant said (admit.lua): an
// interval in microseconds, "0" for none.
func (g *shared) heardPace(v any) {
	s, _ := v.(string)
	iv, err := strconv.ParseFloat(s, 64)
	r := 0.0
	if err == nil && iv > 0 {
		r = 1e6 / iv
	}
	g.paced429.Store(math.Float64bits(r))
}

// handingOver reports whether a call admitted at is admitted so soon after
// an outage that a window may hold it with the calls of the outage or the
// grace after it (handoverUntil).
func (g *shared) handingOver(at time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return at.Before(g.handoverUntil)
}

// learn is Learn, the request rate learned from 429s alone when from429,
// climbed from was (see Learn429).
func (g *shared) learn(l sluice.Limits, from429 bool, was sluice.Rate) {
	if g.s.health.isDown() {
		return // each process keeps its own learned pace meanwhile
	}
	args := make([]any, 0, 10)
	for _, r := range [...]sluice.Rate{l.Rate, l.Tokens, l.InputTokens, l.OutputTokens} {
		if r.IsZero() || r.N <= 0 {
			args = append(args, 0, 0)
			continue
		}
		ivUs := float64(r.Per) / r.N / 1000
		tau := ivUs // requests: evenly spaced
		if r != l.Rate {
			tau = ivUs * max(r.N, 1) // tokens: a period's worth
		}
		args = append(args, strconv.FormatFloat(ivUs, 'f', 3, 64), int64(tau))
	}
	flag, wasIv := 0, "0"
	if from429 {
		flag = 1
		if !was.IsZero() && was.N > 0 {
			wasIv = strconv.FormatFloat(float64(was.Per)/was.N/1000, 'f', 3, 64)
		}
	}
	args = append(args, flag, wasIv)
	if _, err := g.s.run(context.Background(), learnScript, []string{g.keys.learned}, args...); err != nil {
		g.down(err)
	}
}

// lease is a call this process holds concurrency leases for.
type lease struct {
	n int // its weight: the leases id:1 … id:n
	// local is the Local mode semaphore that counts the call (made
	// during an outage, see config.local), given its units back when
	// the call ends; nil when none does.
	local *sluice.Semaphore
}

// hold and unhold keep the leases this process renews.
func (g *shared) hold(id string, n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if old, ok := g.held[id]; ok {
		g.heldN -= old.n
	}
	g.held[id] = lease{n: n}
	g.heldN += n
}

// pend and unpend keep the calls this process admitted pending in the
// window (admit.lua) and has not yet dated, whose horizon it renews.
func (g *shared) pend(id string, wn int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending[id] = wn
}

func (g *shared) unpend(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.pending, id)
}

// pendingMembers returns the window members pending, for renewal.
func (g *shared) pendingMembers() []any {
	g.mu.Lock()
	defer g.mu.Unlock()
	var m []any
	for id, wn := range g.pending {
		for j := 1; j <= wn; j++ {
			m = append(m, id+":"+fmt.Sprint(j))
		}
	}
	return m
}

func (g *shared) unhold(id string) {
	g.mu.Lock()
	l, ok := g.held[id]
	if ok {
		delete(g.held, id)
		g.heldN -= l.n
	}
	g.mu.Unlock()
	if l.local != nil {
		l.local.Release(l.n)
	}
}

// leaseMembers returns the members of the leases held, for renewal.
func (g *shared) leaseMembers() []any {
	g.mu.Lock()
	defer g.mu.Unlock()
	var m []any
	for id, l := range g.held {
		for j := 1; j <= l.n; j++ {
			m = append(m, id+":"+fmt.Sprint(j))
		}
	}
	return m
}

// down records a failed call, warning once per outage.
func (g *shared) down(err error) { g.s.down(err) }

// down records a failed call, warning once per outage: that Redis is not
// answering, or, when it answered with an error, that error.
func (s *Store) down(err error) {
	if s.health.failed(err) {
		s.stats.outages.Add(1)
		msg := "sluice: redis is not answering; shared limits follow the mode"
		if refused(err) {
			msg = "sluice: redis answered with an error; shared limits follow the mode"
		}
		s.opt.Logger.Warn(msg, "store", s.name, "redis", s.where(), "mode", s.opt.Mode.String(), "err", err)
	}
}

// up records an answer; when Redis is back, it says so and drops the
// limits kept meanwhile.
func (g *shared) up(procs int) { g.s.up(procs) }

// up records an answer with the processes it counted (0: not counted);
// when Redis is back, it says so, and every gate puts its leases back
// and keeps to its local share for a grace (resync.go).
func (s *Store) up(procs int) {
	if d := s.health.answered(procs); d > 0 {
		s.opt.Logger.Warn("sluice: redis answers again; shared limits are back", "store", s.name, "down", d.Round(time.Millisecond))
		s.rejoin()
	}
}

// heard records what an admission asked for at sent learned: the leases
// held in all and the processes counted (for Local mode's slots), and
// the shared pause when it refused for one (status 3, value more).
func (g *shared) heard(sent time.Time, leases, procs int, status, value int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.observe(sent, leases, g.heldUnits(), procs)
	if status == 3 {
		// Dated from when the script was sent: the pause ends no
		// earlier than this by this process's clock, and later by at
		// most the script's way there.
		if until := sent.Add(time.Duration(value) * time.Microsecond); until.After(g.pausedUntil) {
			g.pausedUntil = until
		}
	}
}

// PausedUntil returns the end of the shared pause as this process last
// found it (an admission refused for it, or its own Pause), the zero Time
// when none is known to be in force: a pause another process set is seen
// here once an admission meets it, without a round trip of its own.
// Gate.PausedUntil reports it.
func (g *shared) PausedUntil() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	if time.Until(g.pausedUntil) <= 0 {
		return time.Time{}
	}
	return g.pausedUntil
}

// ticket is a call admitted through Redis.
type ticket struct {
	g      *shared
	id     string
	cn     int
	cost   sluice.Cost
	start  int64 // on the server's clock, microseconds since 1970
	pacers []pacer
	costs  []int64        // what was charged to each pacer, microseconds
	tats   []int64        // each pacer's timeline after the charge
	own    []sluice.Limit // local limits also taken, in the grace after an outage
	// admitted is when, for own's Finish.
	admitted time.Time
	done     atomic.Bool
	// unshared: admitted in the grace after an outage, or so soon after
	// it that a window may hold it with the outage's calls (Unshared).
	unshared bool

	// pending is the window weight taken pending (admit.lua), 0 when
	// the call was dated at its admission; windowUs the window's length.
	pending  int
	windowUs int64
	sent     atomic.Int32 // ticketPending, ticketSent, ...
}

// What became of a pending ticket's window members (ticket.sent).
const (
	ticketPending = iota // not yet dated
	ticketSent           // Sent: dated, or queued to be (Store.dateLater)
	ticketUndated        // Sent, but the store could not queue it: Finish dates it
	ticketEnded          // Finish, or given back
)

// Unshared says the call was admitted by this process's local share as
// well as Redis, in the grace after an outage, or so soon after it that a
// window may hold it with the calls of the outage or the grace: a 429 of
// its is the hand-over's, and teaches the gate no pace (sluice's
// unsharedTicket).
func (t *ticket) Unshared() bool { return t.unshared }

// Sent implements sluice.SentTicket: the call's window members, pending
// since its admission, are dated by sent.lua, sent off the caller's path
// together with other calls' (Store.dateLater), at the time the request
// left as the server's clock tells it: never earlier, and later by no
// more than the script's way there (sent.go). A call dated late only
// holds back later admissions by as much; one dated early would let them
// reach the API inside its window.
func (t *ticket) Sent() {
	if t.pending == 0 || !t.sent.CompareAndSwap(ticketPending, ticketSent) {
		return
	}
	sluice.DateSent(t.cost, t.own...)
	t.g.unpend(t.id)
	if !t.g.s.dateLater(t.g, t.id, t.pending) {
		t.sent.Store(ticketUndated)
	}
}

// Finish implements sluice.Ticket: one script releases the leases and
// settles the tokens, whatever became of the caller's context.
func (t *ticket) Finish(o sluice.Outcome) {
	if !t.done.CompareAndSwap(false, true) {
		return
	}
	g := t.g
	g.unhold(t.id)
	date := 0 // window weight to date now: a call never said sent left by now
	if t.pending > 0 {
		switch t.sent.Swap(ticketEnded) {
		case ticketPending:
			sluice.DateSent(t.cost, t.own...)
			date = t.pending
		case ticketUndated:
			date = t.pending
		}
		g.unpend(t.id)
	}
	for _, l := range t.own {
		l.Finish(t.cost, t.admitted, o)
	}
	args := finishArgs(t.id, t.cn, 0, date, t.windowUs, len(t.pacers))
	settle := false
	for _, p := range t.pacers {
		mode, amount, most := 0, int64(0), int64(0)
		if p.tokens && o.Usage != nil {
			est, used := p.units(t.cost), tokensOf(p.kind, o.Usage.InputTokens, o.Usage.OutputTokens)
			if t.cost.NoRefund && o.Class == sluice.ClassOK && used < est {
				used = est // the API keeps the estimate (sluice.Cost.NoRefund)
			}
			switch {
			case used > est:
				// An absurd usage leaves the timeline at most ten
				// periods ahead, as in memory (TokenBudget.Settle).
				mode, amount, most = 2, p.costUs(min(used-est, maxDebtPeriods*p.capacity)), maxDebtPeriods*p.tauUs
			case used < est:
				mode, amount = 3, p.costUs(est-used)
			}
			settle = settle || mode != 0
		}
		args = append(args, mode, amount, most)
	}
	if t.cn == 0 && !settle && date == 0 {
		return
	}
	t.release(args)
}

// release sends finish.lua with args off the caller's path: a Redis that
// hangs held every call's end (a response body read to EOF, closed) for
// the whole call timeout (outside review). While Redis is known down it
// is not sent at all: the leases, no longer renewed, expire within
// LeaseTTL, and a token settlement is lost (the processes keep their
// local shares meanwhile). A store closed already has no goroutines: the
// caller sends it, as before Close.
//
// An admission of this process refused while releases were under way
// waits for them and asks again (admit), so that it sees what they gave
// back (a slot, a refund), as it did when they were sent in line. A renewal
// that listed the lease before Finish unheld it, and reached Redis after
// this release, puts the lease back (renew.lua): nobody renews it after
// that, and it expires within LeaseTTL.
func (t *ticket) release(args []any) {
	g, s := t.g, t.g.s
	if s.health.isDown() {
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		t.finish(args)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	done := make(chan struct{})
	g.mu.Lock()
	if g.releasing == nil {
		g.releasing = make(map[chan struct{}]struct{})
	}
	g.releasing[done] = struct{}{}
	g.mu.Unlock()
	go func() {
		defer s.wg.Done()
		t.finish(args)
		g.mu.Lock()
		delete(g.releasing, done)
		g.mu.Unlock()
		close(done)
	}()
}

// releases returns the channels of the releases under way.
func (g *shared) releases() []chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.releasing) == 0 {
		return nil
	}
	pending := make([]chan struct{}, 0, len(g.releasing))
	for ch := range g.releasing {
		pending = append(pending, ch)
	}
	return pending
}

// awaitReleases waits until the releases under way when it is called are
// done, or ctx ends (each is bounded by the call timeout).
func (g *shared) awaitReleases(ctx context.Context) error {
	return awaitAll(ctx, g.releases())
}

// awaitAll waits until every channel is closed, or ctx ends.
func awaitAll(ctx context.Context, chs []chan struct{}) error {
	for _, ch := range chs {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// giveBack undoes an admission whose reservation was never used: leases,
// window starts and pacers' charges.
func (t *ticket) giveBack(wn int) {
	t.done.Store(true)
	t.sent.Store(ticketEnded)
	t.g.unhold(t.id)
	t.g.unpend(t.id)
	args := finishArgs(t.id, t.cn, wn, 0, 0, len(t.pacers))
	for i := range t.pacers {
		args = append(args, 1, t.costs[i], t.tats[i])
	}
	t.finish(args)
}

// callerEnded returns the caller's context's error, or
// context.DeadlineExceeded once its deadline has passed though the
// context's own timer has not yet said so: the client's read deadline,
// set from it, may fire first, and the caller's own timeout was then
// taken for Redis not answering (an outage declared, the call admitted
// from the fallback limits).
func callerEnded(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d.Add(-time.Millisecond)) {
		return context.DeadlineExceeded
	}
	return nil
}

// abandon gives back, off the caller's path, the lease and window entry
// an admission whose answer never came may have taken. A store closed
// meanwhile leaves them to expire.
func (g *shared) abandon(id string, cn, wn int, pacers []pacer) {
	s := g.s
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	// The pacers the admission was asked with: the gate's limits may
	// have been configured anew since.
	t := &ticket{g: g, id: id, cn: cn, pacers: pacers}
	args := finishArgs(id, cn, wn, 0, 0, len(pacers))
	for range pacers {
		args = append(args, 0, 0, 0) // mode 0: nothing
	}
	go func() {
		defer s.wg.Done()
		t.finish(args)
	}()
}

// finishArgs returns finish.lua's arguments but the pacers': the
// admission id, the concurrency weight to release, the window weight to
// remove (pending or not), the window weight to date now if still pending
// and the window's length, and the number of pacers, whose mode, amount
// and tat the caller appends.
func finishArgs(id string, cn, remove, date int, windowUs int64, pacers int) []any {
	args := make([]any, 0, 6+3*pacers)
	return append(args, id, cn, remove, date, windowUs, pacers)
}

func (t *ticket) finish(args []any) {
	g := t.g
	keys := []string{g.keys.leases, g.keys.window, g.keys.released, g.keys.pending}
	for _, p := range t.pacers {
		keys = append(keys, p.key)
	}
	v, err := g.s.run(context.Background(), finishScript, keys, args...)
	if err != nil {
		g.down(err) // the leases expire on their own once no longer renewed
		return
	}
	if asInt(v) > 0 {
		// This process's waiters need not wait for the release's
		// message.
		g.notify()
	}
}

// roundUpMs turns a wait in microseconds into a Duration rounded up to
// the millisecond: trying again at a time rounded down would be refused.
func roundUpMs(us int64) time.Duration {
	return time.Duration((us+999)/1000) * time.Millisecond
}

func asInt(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	}
	return 0
}
