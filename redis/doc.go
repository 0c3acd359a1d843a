// Package redis shares sluice's limits between processes and hosts
// through Redis (github.com/redis/go-redis/v9).
//
// Set sluice.Limits.Store to a *Store and every gate built from those
// Limits, in any process naming the same store name, shares one rate,
// sliding window, token budgets, concurrency and pause. The concurrency
// is shared only when Limits.Concurrency is set: a zero Concurrency
// leaves each process its own sluice.DefaultConcurrency calls in flight,
// kept in memory, so that the example below shares a rate and nothing
// else:
//
//	client, err := redis.Dial("redis://127.0.0.1:6379/0")
//	if err != nil {
//		return err
//	}
//	store := redis.New(client, "my-api", redis.Options{})
//	defer store.Close()
//	gate := sluice.Limits{Rate: sluice.PerSecond(100), Store: store}.NewGate()
//
// One admission is one atomic Lua script on the server's clock (TIME)
// that checks every shared limit of the gate together, all or nothing:
// one round trip, asked only by the caller at the front of each process's
// line. A refusal says how long to wait, rounded up, and the gate sleeps
// that long locally; a wait shorter than Options.Ahead is granted as a
// reservation instead, and given back by a script if the caller gives up.
// Concurrency is kept as leases that expire unless renewed, so a holder
// that dies frees its slots; waiters for a slot are woken by pub/sub, with
// a timed re-check as a backstop. A weight above the shared concurrency
// runs alone, once no process holds a slot, as a sluice.Semaphore runs
// it; there is no line across processes, so while others start calls
// without pause it may wait long. Token estimates are settled by a script
// when the call ends.
//
// A shared sliding window counts a sluice.Transport's call from when its
// request has left, as a window in memory does: a new connection's dial
// and TLS handshake come between admission and arrival, and a window
// counting from admission let the next window's calls, sent at once on
// warm connections, reach the API inside the first's. The admission takes
// such a call pending, counting in every window; once net/http has
// written the request, a script dates it at the server's time, sent in
// the background and batched with other calls' (a call never written is
// dated when it ends). A process that dies leaves its pending calls
// counting for at most Options.LeaseTTL, then as started then.
//
// A Redis that restarts empty (it keeps nothing on disk), or stalls for
// longer than a lease's time to live and reaps the leases of live
// holders, loses part of the limits' state. Holders put their leases
// back at their next renewal (they know what they have not released). A
// process that finds Redis back after an outage, or finds that Redis no
// longer counts it among the processes (a restart between two of its
// calls), puts its leases back before it admits again, and for a grace
// (two RetryEvery, or a third of LeaseTTL and a CallTimeout when longer)
// keeps to its Local mode limits as well as to Redis, while the others
// come back and put theirs back. The rates of a restarted Redis start
// afresh: a window's worth may be admitted again right after the restart.
//
// How far a shared concurrency N holds while Redis is away, in Local
// mode: each process keeps the calls it holds, and of the slots the
// others did not hold when it last heard from Redis, a part for each
// process Redis counted ((N - others' leases) / processes, rounded down:
// possibly none). Processes whose last answers agree (a busy fleet, which
// hears from Redis all the time) together keep N at most, through an
// outage, a restart or a stall, and back. A stall is noticed a call
// timeout late, when most of a process's calls have ended, so through
// one the fleet may run well under N until a few seconds after Redis
// answers (outside review: 2 of 10); keeping what each held at its last
// answer instead broke the bound after quick restarts. A process whose last answer is
// older than others' admissions (it was idle) may take its part of slots
// they took meanwhile: at worst K processes keep N + (K-1)·N/K (N and a
// half for two), the bound of plain shares. A process that never reached
// Redis takes N / Options.Processes. A process cut off from Redis while
// the others still reach it (a partition) is not seen by them: together
// they may run N and what it has in flight beyond the leases Redis keeps
// for it (all of it once they expire, LeaseTTL after its last renewal).
//
// Every key of a store carries the one hash tag {PREFIX:NAME}, so Redis
// Cluster works; scripts are sent with EVALSHA and again with EVAL when
// the server answers NOSCRIPT (after a restart, SCRIPT FLUSH or failover).
//
// Dial builds a client whose calls keep to the store's call timeout; a
// client of your own needs ContextTimeoutEnabled (see Client), or a hung
// server holds each call for go-redis's own timeouts and retries instead.
//
// When Redis cannot answer within Options.CallTimeout, the store follows
// its Mode: Local (answer from in-memory limits at this process's share,
// the concurrency as above), Open (admit) or Closed (fail with
// ErrUnavailable). It warns once per outage and counts in Stats; it tries
// Redis again every Options.RetryEvery and goes back to it when it
// answers.
//
// A pause one process shares (sluice.Gate.PauseUntil, a 429) holds every
// process's admissions; another process's Gate.PausedUntil reports it
// once an admission of that process has met it, at no extra round trip.
package redis
