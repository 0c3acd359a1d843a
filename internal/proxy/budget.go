package proxy

import (
	"context"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// The bodies of requests waiting for admission or in flight are held in
// memory (for retries), so without a bound a queue of 1000 requests with
// 32 MiB bodies could hold 32 GiB: an outside review saw 40 bodies of
// 20 MiB queued behind a slow rate take the proxy to 2.8 GiB. The
// server's body budget bounds the bytes they hold together. A request
// whose body finds no room waits for it, before its body is read, in
// arrival order, within the same patience as its wait for admission (the
// max wait and the client's deadline), and is refused as a request that
// waited the max wait is (429 with Retry-After) when none is made in time.
// Waiting rather than refusing at once (as a full queue does) because the
// budget is the proxy's own memory, not the upstream's rate: while the
// proxy has not read it, a waiting body costs nothing but its connection
// (TCP holds the client back, and a client that sent Expect: 100-continue
// has not even sent it), and refusing it would only have the client send
// it again. The count of waiting requests stays bounded by the queue once
// each is read, and the wait by the max wait.

// DefaultBodyBudget is a Server's BodyBudget when it gives none: 256 MiB,
// eight bodies of DefaultMaxBody.
const DefaultBodyBudget = 256 << 20

// bodyBudget is room for the bytes of bodies held at once, granted in
// arrival order: a large body waiting for room is not overtaken by
// smaller ones, which would starve it (as in x/sync/semaphore, which it
// wraps). A body larger than the whole budget takes all of it, so that it
// is served alone rather than refused forever. A nil *bodyBudget bounds
// nothing. Safe for concurrent use.
type bodyBudget struct {
	size    int64
	sem     *semaphore.Weighted
	held    atomic.Int64 // bytes granted and not yet released
	waiting atomic.Int64 // requests waiting for room
}

func newBodyBudget(size int64) *bodyBudget {
	return &bodyBudget{size: size, sem: semaphore.NewWeighted(size)}
}

// acquire waits for room for n bytes, and returns what it took (n, or the
// whole budget for a body larger than it), for release. When ctx ends
// first it takes nothing and returns ctx's cause.
func (b *bodyBudget) acquire(ctx context.Context, n int64) (int64, error) {
	if b == nil || n <= 0 {
		// No bytes take no room: a body-less request must not queue
		// behind a large body waiting for room.
		return 0, nil
	}
	n = min(n, b.size)
	b.waiting.Add(1)
	err := b.sem.Acquire(ctx, n)
	b.waiting.Add(-1)
	if err != nil {
		return 0, context.Cause(ctx)
	}
	b.held.Add(n)
	return n, nil
}

// release gives back n bytes acquire took.
func (b *bodyBudget) release(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.held.Add(-n)
	b.sem.Release(n)
}
