// Package sluice keeps programs from drowning the APIs they call: it runs
// calls as fast as an API allows and no faster.
//
// # Which type to use
//
//	| you want                                        | use            |
//	|-------------------------------------------------|----------------|
//	| any HTTP client kept within an API's limits     | Transport      |
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
//
// Most programs set an http.Client's Transport to a Transport, or build one
// Gate per API (Limits.NewGate) and call Gate.Acquire before each call and
// Permit.Done after it. The limits are also useful on their own; each is
// safe for concurrent use, and each blocking method takes a context first
// and, when it is cancelled, returns ctx.Err() having given back whatever
// it took.
//
// Rates are written as COUNT/PERIOD ("50/s", "3000/m", "100/10s") and read
// by ParseRate. The zero value of every limit means "no limit".
package sluice
