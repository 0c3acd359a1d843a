package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice"
)

// Client is what a Store needs of a Redis client: scripts and pub/sub.
// *goredis.Client, *goredis.ClusterClient and *goredis.Ring all have it.
//
// A client's own timeouts bound each call too: build it with
// ContextTimeoutEnabled, or with read and write timeouts no longer than
// Options.CallTimeout, so that a dead server cannot hold a call longer
// (Dial does both).
type Client interface {
	goredis.Scripter
	Subscribe(ctx context.Context, channels ...string) *goredis.PubSub
}

// ErrUnavailable matches the error of admissions in Closed mode while
// Redis cannot answer (and of a Check that got no answer). It, and such
// an error, also match sluice.ErrSharedUnavailable, which is what sluice
// classifies (sluice.ClassSharedUnavailable) and its faces act on.
var ErrUnavailable error = &sentinel{"redis: shared limits unavailable", sluice.ErrSharedUnavailable}

// ErrTooLarge matches the error of a call whose cost exceeds what a
// shared limit could ever admit (more than its concurrency, window count
// or one period's tokens or requests). It, and such an error, also match
// sluice.ErrTooLarge; the error is a *sluice.TooLargeError naming the
// limit and the numbers.
var ErrTooLarge error = &sentinel{"redis: cost exceeds the shared limit's capacity", sluice.ErrTooLarge}

// sentinel is an error value of this package that also matches the
// library's sentinel for the same condition, so that callers may branch
// on either.
type sentinel struct {
	msg  string
	also error
}

func (e *sentinel) Error() string { return e.msg }

// Is makes the sentinel match the library's.
func (e *sentinel) Is(target error) bool { return target == e.also }

// DefaultLeaseTTL is how long the leases of a process killed without
// releasing them (kill -9) keep its concurrency slots from the others:
// 5s, renewed every 1.7s, is still far beyond a GC pause or a slow
// renewal, and halves the stall a dead holder costs the others (10s
// before).
const DefaultLeaseTTL = 5 * time.Second

// Options tune a Store. The zero Options work.
type Options struct {
	// Prefix starts every key; "" means "sluice". Keys of store name N
	// carry the hash tag {Prefix:N}.
	Prefix string
	// Mode is what to do when Redis cannot answer; the zero Mode is Local.
	Mode Mode
	// CallTimeout bounds each call to Redis; 0 means DefaultCallTimeout.
	CallTimeout time.Duration
	// LeaseTTL is how long a concurrency lease outlives a holder that
	// stopped renewing it (died); 0 means DefaultLeaseTTL. Leases are
	// renewed every third of it. It is also the horizon of a call
	// pending in a shared window (a Transport's call whose request has
	// not left yet: sluice.SentTicket), renewed with the leases: the
	// call of a process that died counts in every window for at most
	// LeaseTTL after its last renewal, then as started then, for a
	// window more.
	LeaseTTL time.Duration
	// Ahead is how far ahead a rate slot may be reserved in one round
	// trip; 0 means 50ms.
	Ahead time.Duration
	// RetryEvery is how often Redis is tried again while it is down;
	// 0 means 1s.
	RetryEvery time.Duration
	// Processes is how many processes Local mode assumes share the
	// limits until Redis has counted them: a process that starts while
	// Redis is unreachable has seen no other, and nothing it could read
	// keeps the count. 0 means 1: each such process takes the whole
	// limit, and N of them together N times it. Set it to the fleet's
	// size where that must not happen (or use Closed). Once Redis has
	// answered, its count is used, for the rest of the process's life.
	Processes int
	// Logger receives the warnings (Redis down, Redis back); nil means
	// slog.Default().
	Logger *slog.Logger
}

// Store keeps gates' limits in Redis under one name. Set it as
// sluice.Limits.Store. A Store is safe for concurrent use; Close stops
// its goroutines (lease renewal, pub/sub) and waits for them.
type Store struct {
	client Client
	name   string
	opt    Options
	proc   string // this process's id, for leases and the count of processes
	seq    atomic.Uint64

	mu     sync.Mutex
	gates  map[string]*shared // by gate key
	pubsub *goredis.PubSub
	subMu  sync.Mutex // held while the subscription changes (subscribe)
	closed bool

	health health
	stats  counters
	// lastAnswer is when a script last counted this process among the
	// processes (admit.lua, renew.lua), unix nanoseconds; 0 for never.
	lastAnswer atomic.Int64
	// rejoined is when Redis was last found back, or found to have lost
	// its state (rejoin), unix nanoseconds.
	rejoined atomic.Int64

	// sentQueue holds calls whose requests have left, for dateSent to
	// date in the window (sent.go); dating says it runs. Under mu.
	sentQueue []sentCall
	dating    bool

	stop chan struct{}
	wg   sync.WaitGroup
	// renewNow asks the renewal loop to renew at once (Redis is back:
	// leases it lost, and calls admitted locally meanwhile, are put
	// there without waiting a third of a ttl).
	renewNow chan struct{}

	// sleep waits until a reserved slot (sleepFor; tests make it
	// oversleep, as a loaded machine's timers do).
	sleep func(ctx context.Context, d time.Duration) error
	// backstop is how long a caller refused a shared slot waits at most
	// for a release's message (concurrencyBackstop; tests lengthen it to
	// tell a wake-up by message from one by the re-check).
	backstop time.Duration
}

// sleepFor waits d, or until ctx ends, returning ctx's error then.
func sleepFor(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// counters are the Store's Stats, counted as they happen.
type counters struct {
	admissions, roundTrips, fallbacks, outages, errors atomic.Int64
	lateRetakes                                        atomic.Int64
}

// Stats is a snapshot of a Store's counters.
type Stats struct {
	Admissions int64 // calls admitted through Redis
	RoundTrips int64 // script calls sent (admit, finish, renew, sent, pause, learn)
	Fallbacks  int64 // admissions answered without Redis (Mode)
	Outages    int64 // times Redis went from answering to not
	Errors     int64 // calls that failed (timeouts, connection errors)
	// LateRetakes counts reserved slots this process woke too late to
	// use (a loaded machine): each was given back and asked again.
	LateRetakes int64
	Down        bool // Redis is not answering now
}

// DefaultCallTimeout bounds each call to Redis when Options.CallTimeout
// is 0. A Redis that refuses connections fails a call at once whatever
// it is; the timeout only decides how long a hung server, or a reply
// delayed on a busy machine, holds a call before the Mode answers. It was
// 200ms, and a healthy Redis on a loaded host (two cores, builds running)
// was declared down for seconds at a time: every process then fell back
// to its share of the limits, or refused calls in closed mode.
const DefaultCallTimeout = time.Second

// New returns a Store sharing limits under name through client. It
// starts no goroutine until a gate shares limits through it.
func New(client Client, name string, opt Options) *Store {
	if opt.Prefix == "" {
		opt.Prefix = "sluice"
	}
	if opt.CallTimeout <= 0 {
		opt.CallTimeout = DefaultCallTimeout
	}
	if opt.LeaseTTL <= 0 {
		opt.LeaseTTL = DefaultLeaseTTL
	}
	if opt.Ahead <= 0 {
		opt.Ahead = 50 * time.Millisecond
	}
	if opt.RetryEvery <= 0 {
		opt.RetryEvery = time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Store{
		client: client, name: name, opt: opt, proc: hex.EncodeToString(b[:]),
		gates: make(map[string]*shared), stop: make(chan struct{}), renewNow: make(chan struct{}, 1),
		sleep:    sleepFor,
		backstop: concurrencyBackstop,
	}
}

// Dial connects to the Redis at url (redis://host:port/db, rediss://…)
// with timeouts no longer than a Store's default call timeout, and
// returns the client for New. It also sends go-redis's own log (a line a
// second about failed dials while Redis is down) to slog at debug level:
// a Store warns once per outage itself. That logger is process-wide.
func Dial(url string) (*goredis.Client, error) {
	quietLogger.Do(func() { goredis.SetLogger(debugLogger{}) })
	o, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: %q: %w", url, err)
	}
	o.ContextTimeoutEnabled = true
	o.DialTimeout = DefaultCallTimeout
	o.ReadTimeout = DefaultCallTimeout
	o.WriteTimeout = DefaultCallTimeout
	o.MaxRetries = -1 // a retry doubles the time a dead server holds a call
	// go-redis dials up to five times, 100 ms apart, by default: against a
	// dead server every call then ran out its whole CallTimeout and said
	// only "context deadline exceeded". One dial fails at once and names
	// the cause (connection refused); the Store's own RetryEvery decides
	// when to try again.
	o.DialerRetries = 1
	return goredis.NewClient(o), nil
}

// tag returns the hash tag every key of this store carries.
func (s *Store) tag() string { return "{" + s.opt.Prefix + ":" + s.name + "}" }

// Share implements sluice.Store: the shared limits of l for the gate key.
func (s *Store) Share(key string, l sluice.Limits) sluice.Shared {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.gates[key]; ok {
		g.configure(l)
		g.shares++
		return g
	}
	g := newShared(s, key, l)
	g.shares = 1
	s.gates[key] = g
	if !s.closed {
		if s.pubsub == nil {
			s.pubsub = s.client.Subscribe(context.Background(), g.keys.released)
			s.wg.Add(2)
			go s.listen(s.pubsub)
			go s.renewLoop()
		} else {
			s.subscribe(g.keys.released, key)
		}
	}
	return g
}

// subscribe listens to a gate's release channel, or, with key gone from
// the store's gates (forgotten: shared.Close), stops listening to it; in
// the background, one change at a time, so that a gate forgotten and
// made again ends subscribed. s.mu is held.
func (s *Store) subscribe(channel, key string) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.subMu.Lock()
		defer s.subMu.Unlock()
		s.mu.Lock()
		ps, closed := s.pubsub, s.closed
		_, wanted := s.gates[key]
		s.mu.Unlock()
		if closed {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.opt.CallTimeout)
		defer cancel()
		if wanted {
			_ = ps.Subscribe(ctx, channel) // it resubscribes on reconnect
		} else {
			_ = ps.Unsubscribe(ctx, channel)
		}
	}()
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Admissions: s.stats.admissions.Load(), RoundTrips: s.stats.roundTrips.Load(),
		Fallbacks: s.stats.fallbacks.Load(), Outages: s.stats.outages.Load(),
		Errors: s.stats.errors.Load(), LateRetakes: s.stats.lateRetakes.Load(), Down: s.health.isDown(),
	}
}

// Close stops renewing leases and listening for releases, and waits for
// its goroutines, releases sent in the background included (each bounded
// by CallTimeout). Leases still held expire after LeaseTTL; a call that
// ends after Close sends its release itself. It does not close the
// client.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	ps := s.pubsub
	s.mu.Unlock()
	var err error
	if ps != nil {
		err = ps.Close()
	}
	s.wg.Wait()
	return err
}

// run sends one script with the call timeout, counting it; a failure that
// is not the caller's own cancellation marks Redis down.
func (s *Store) run(ctx context.Context, sc *goredis.Script, keys []string, args ...any) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opt.CallTimeout)
	defer cancel()
	s.stats.roundTrips.Add(1)
	v, err := sc.Run(ctx, s.client, keys, args...).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		s.stats.errors.Add(1)
		return nil, err
	}
	return v, nil
}

// newID returns a unique admission id.
func (s *Store) newID() string {
	return s.proc + "-" + strconv.FormatUint(s.seq.Add(1), 10)
}
