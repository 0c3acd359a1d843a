// Package sluice keeps programs from drowning the APIs they call: it runs
// calls as fast as an API allows and no faster.
//
// # Which type to use
//
//	| you want                                        | use            |
//	|-------------------------------------------------|----------------|
//	| any HTTP client kept within an API's limits     | Transport      |
//	| one more limit over all of a Transport's hosts  | GateTransport  |
//	| a stream of items through the limits, N workers | Pool, Map      |
//	| at most N calls (or units) in flight            | Semaphore      |
//	| a concurrency ceiling that adapts to the API    | AdaptiveLimit  |
//	| evenly paced starts, N per period               | RateLimiter    |
//	| exactly "at most N in any window", as strict    | SlidingWindow  |
//	|   APIs count                                    |                |
//	| LLM tokens per period, estimated then settled   | TokenBudget    |
//	| all of the above at once, all-or-nothing, with  | Gate, Limits   |
//	|   a shared cool-down                            |                |
//	| retries that cannot become a storm              | RetryPolicy    |
//	| the same limits shared by processes and hosts   | Limits.Store   |
//	|   (package redis)                               |                |
//
// Most programs set an http.Client's Transport to a Transport, or build one
// Gate per API (Limits.NewGate) and call Gate.Acquire before each call and
// Permit.Done after it. The limits are also useful on their own; each is
// safe for concurrent use, and each blocking method takes a context first
// and, when it is cancelled, returns ctx.Err() having given back whatever
// it took.
//
// Limit, Shared and Store are the contracts other limits plug into: a
// Limit answers in memory under the gate's mutex; a Shared (package redis)
// is asked outside it, by one caller of a gate at a time.
//
// Rates are written as COUNT/PERIOD ("50/s", "3000/m", "100/10s") and read
// by ParseRate. The zero value of every limit means "no limit".
//
// # Coming from x/time/rate, x/sync/semaphore, failsafe-go
//
// Most code ports call for call. These differences are deliberate; each
// comes with the idiom to use instead:
//
//   - A Semaphore request larger than the whole limit is granted alone once
//     nothing else is held, and later requests wait behind it; x/sync fails
//     it when its context ends and lets the others pass. To refuse it, check
//     first: if l := s.Limit(); l > 0 && n > l { ... }.
//   - A RateLimiter request over the burst is admitted when the bucket is
//     full and leaves a debt that delays what follows; x/time/rate refuses
//     it (AllowN false, WaitN an error). To refuse it, compare n with
//     Burst() first. A Gate refuses at once, with ErrTooLarge and taking
//     nothing, a cost that one of its limits could never admit: more than
//     a rate's count per period (and its burst), a window's count, or a
//     token budget's tokens per period (see Capacity).
//   - The zero Rate and the zero RateLimiter mean no limit (x/time/rate's
//     Inf), and a burst below 1 means 1; x/time/rate's zero Limit and zero
//     burst allow nothing. To stop calls, pause the Gate (PauseUntil) or
//     halt it for good (Halt).
//   - RateLimiter.SetRate and TokenBudget.SetRate re-time work already
//     queued: waiters and Reservations move, in order, to the new pace;
//     x/time/rate keeps the times it handed out. Read Reservation.Delay just
//     before acting, not once after Reserve.
//   - A Wait (RateLimiter, SlidingWindow, TokenBudget) or Gate.Acquire whose
//     context deadline comes before the predicted admission fails at once
//     and takes nothing, as x/time/rate's Wait does. The error matches both
//     ErrWouldExceedDeadline and context.DeadlineExceeded: test it with
//     errors.Is. Semaphore.Acquire cannot foresee a release, so it waits
//     until the deadline.
//   - Weights: a negative one never adds room. Semaphore.Acquire returns an
//     error, TryAcquire reports false and Release panics, each changing
//     nothing. A weight of 0 is granted at once, even while others wait
//     (x/sync queues it behind them); TokenBudget admits n <= 0 at once, for
//     free.
//   - Semaphore and Gate serve waiters by priority (WithPriority), then in
//     arrival order; without priorities that is x/sync's FIFO.
//   - From failsafe-go: a bulkhead is a Semaphore (Limits.Concurrency in a
//     Gate), a smooth or bursty rate limiter a RateLimiter with burst 1 or
//     b, an adaptive limiter an AdaptiveLimit. Permit.Done(o) is
//     Permit.Record; Done with o.Class ClassCanceled frees the slot and
//     teaches the limits nothing, like Drop. A retry policy with a budget
//     is a RetryPolicy whose Budget is a RetryBudget, and each of its
//     retries goes back through the Gate. The http.RoundTripper adapter is
//     a Transport, which puts every request through a Gate with a
//     RetryPolicy.
package sluice
