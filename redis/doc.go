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
// back at their next renewal (they know what they have not released),
// and at once when they find Redis back after an outage. The rates of a
// restarted Redis start afresh: a window's worth may be admitted again
// right after the restart.
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
// its Mode: Local (answer from in-memory limits at this process's share),
// Open (admit) or Closed (fail with ErrUnavailable). It warns once per
// outage and counts in Stats; it tries Redis again every
// Options.RetryEvery and goes back to it when it answers.
package redis
