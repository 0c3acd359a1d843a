package sluice

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"
)

// Pool runs a stream of items through a Gate with a fixed number of
// workers, retrying failures as its RetryPolicy says. Memory grows with the
// number of workers (and the reorder window), never with the number of
// items: items are pulled from the input only as workers free up, and
// results wait only until the caller takes them.
//
// Workers is best set to the gate's concurrency (with no Gate and fn
// calling a Transport, to the Transport's): each worker then takes its
// slot back with its next item through the gate's fast path, and none
// queues in the gate. An item waiting between attempts (a backoff,
// Retry-After, the retry budget) holds a worker but no slot, so for that
// time a spare worker runs and takes up the slot, up to Workers spares at
// once; once the item goes on, a worker left over ends after its current
// item. The waits are told, not guessed, by the retry loop itself: the
// Pool's own retries, and those of a Transport that fn calls with the
// context it was given or one derived from it. The cost: two allocations
// per worker, none per item; two atomic loads per item while no spare
// runs; a mutex round trip per wait, and a goroutine and two allocations
// per spare started.
//
// Every goroutine Run starts is owned by Run and has ended when its
// iterator returns; a panic in the function is re-raised there, as a
// *PanicError that keeps the stack where it was raised.
//
// Set the fields, then call Run; a Pool may be reused, one Run at a time.
type Pool[T, R any] struct {
	// Gate holds the limits every attempt passes; nil means none beyond
	// Workers.
	Gate *Gate
	// Workers is how many items are worked on at once, not counting
	// those waiting between attempts (see above); 0 means
	// DefaultConcurrency.
	Workers int
	// Ordered yields results in input order instead of completion order.
	// At most Window items are then in the pipeline at once (default four
	// times Workers), so one slow item stalls the rest rather than letting
	// finished results pile up.
	Ordered bool
	Window  int
	// Retry says which failures are retried; see ClassOf for how an
	// error is classified. With a Budget, a retry the budget refuses
	// waits for it unless BudgetMode is BudgetFailFast: a batch is paced
	// by its budget, and an item fails only when its attempts are spent
	// or the run stops.
	Retry RetryPolicy
	// Cost estimates what an item asks of the gate; nil means one
	// request.
	Cost func(T) Cost
	// Usage reports the tokens a result used, to settle token budgets;
	// nil means the estimate stands.
	Usage func(R) *Usage
	// OnEvent, if set, is called for progress events, from the worker
	// goroutines: it must be quick and safe for concurrent use.
	OnEvent func(Event)
}

// Result is one item's outcome.
type Result[T, R any] struct {
	Index    int // the item's position in the input, from 0
	Item     T
	Value    R
	Err      error
	Class    Class // ClassOK when Err is nil
	Attempts int
	Elapsed  time.Duration // from the first attempt's wait for admission to the end
}

// EventKind says what an Event reports.
type EventKind int

const (
	// EventStarted: an attempt was admitted and has started.
	EventStarted EventKind = iota
	// EventThrottled: an attempt was throttled by the API.
	EventThrottled
	// EventRetry: an attempt failed in a way that is retried, budget and
	// attempts permitting.
	EventRetry
	// EventDone: an item succeeded.
	EventDone
	// EventFailed: an item failed for good.
	EventFailed
)

var eventNames = [...]string{"started", "throttled", "retry", "done", "failed"}

// String names the kind.
func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a progress report from a Pool.
type Event struct {
	Kind    EventKind
	Index   int   // the item's position in the input
	Attempt int   // which attempt, from 1
	Class   Class // the attempt's class (Throttled, Retry, Done, Failed)
	Err     error // the attempt's error, if any
	Stats   GateStats
}

// Run calls fn for every item and yields the results, in completion order
// or, with Ordered, in input order. Breaking out of the loop, or ctx
// ending, stops the run promptly: no new item is started, calls in flight
// see their context cancelled, and Run returns once every worker has
// ended. Items never handed to a worker are not yielded. Run does not
// wait for an input that blocks (a read from a pipe): the iterator's
// next yield returns false, and it should return then. It does wait for
// fn: a call that ignores its context and never returns holds Run (and
// the loop's break) until it does, since nothing can stop a goroutine
// from outside; a call that must bound itself should honour ctx.
//
// When ctx has a deadline and the Gate predicts that an item cannot start
// before it (see Gate.Acquire), that item is yielded at once with
// ClassCanceled. Without a Cost func no further item is handed out, since
// those would start later still; the items already waiting ahead of it go
// on. With one, each item is refused or admitted on its own cost.
func (p *Pool[T, R]) Run(ctx context.Context, items iter.Seq[T], fn func(context.Context, T) (R, error)) iter.Seq[Result[T, R]] {
	return func(yield func(Result[T, R]) bool) {
		r := newRun(ctx, p, fn)
		defer r.stop()
		r.start(items)
		if p.Ordered {
			r.yieldInOrder(yield)
		} else {
			for res := range r.results {
				if !yield(res) {
					return
				}
			}
		}
	}
}

// Map runs fn over items with workers goroutines under gate (nil for no
// limits), retrying with the default RetryPolicy, and yields results in
// completion order. It is shorthand for a Pool.
func Map[T, R any](ctx context.Context, gate *Gate, workers int, items iter.Seq[T], fn func(context.Context, T) (R, error)) iter.Seq[Result[T, R]] {
	p := &Pool[T, R]{Gate: gate, Workers: workers}
	return p.Run(ctx, items, fn)
}

// run is one Pool.Run in progress.
type run[T, R any] struct {
	p       *Pool[T, R]
	fn      func(context.Context, T) (R, error)
	ctx     context.Context
	cancel  context.CancelFunc
	gate    *Gate
	jobs    chan job[T]
	results chan Result[T, R]
	window  chan struct{} // Ordered: one token per item in the pipeline
	wg      sync.WaitGroup
	spares  spares // workers, and spares for items between attempts (pool_spare.go)

	// late is closed when the run's deadline refused an item: the items
	// not yet handed out would be later still, so none is.
	late     chan struct{}
	lateOnce sync.Once

	panicMu  sync.Mutex
	panicked *PanicError
	// fed is closed when the input iterator has returned; Run does not
	// wait for it (see start). returned is set once Run has returned.
	fed      chan struct{}
	returned atomic.Bool
}

type job[T any] struct {
	index int
	item  T
}

func newRun[T, R any](ctx context.Context, p *Pool[T, R], fn func(context.Context, T) (R, error)) *run[T, R] {
	workers := p.Workers
	if workers <= 0 {
		workers = DefaultConcurrency
	}
	gate := p.Gate // nil: no admission at all, not an empty gate to pass
	ctx, cancel := context.WithCancel(ctx)
	r := &run[T, R]{
		p: p, fn: fn, ctx: ctx, cancel: cancel, gate: gate,
		jobs:    make(chan job[T]),
		results: make(chan Result[T, R], workers),
		late:    make(chan struct{}),
		fed:     make(chan struct{}),
	}
	if p.Ordered {
		w := p.Window
		if w <= 0 {
			w = 4 * workers
		}
		r.window = make(chan struct{}, max(w, workers))
	}
	r.spares.workers, r.spares.running = workers, workers
	r.spares.start = r.startWorker
	r.wg.Add(workers)
	for range workers {
		go r.work()
	}
	return r
}

// startWorker starts a spare worker. The caller is a worker, or a call on
// one, whose own count keeps wg above zero.
func (r *run[T, R]) startWorker() {
	r.wg.Add(1)
	go r.work()
}

// start feeds the items to the workers from a goroutine of its own, and
// closes results once the workers are done. The workers end with the
// run's context, not only when the feeder closes jobs: an iterator that
// blocks (a read from a pipe, a page of an API) would otherwise hold Run
// past its context's end until it yielded again, or for ever. Run does
// not wait for such an iterator: its next yield returns false, and it is
// for it to return then; a panic it raises after Run has returned is
// raised again in the feeder's goroutine, as nobody is left to take it.
func (r *run[T, R]) start(items iter.Seq[T]) {
	go func() {
		defer close(r.fed)
		defer close(r.jobs)
		defer r.recoverFeederPanic()
		i := 0
		for item := range items {
			if r.window != nil {
				select {
				case r.window <- struct{}{}:
				case <-r.ctx.Done():
					return
				case <-r.late:
					return
				}
			}
			select {
			case r.jobs <- job[T]{i, item}:
			case <-r.ctx.Done():
				return
			case <-r.late:
				return
			}
			i++
		}
	}()
	go func() {
		r.wg.Wait()
		close(r.results)
	}()
}

// stop cancels the run, waits for every goroutine, and re-raises a panic.
func (r *run[T, R]) stop() {
	r.cancel()
	for range r.results {
		// Drain so that blocked workers can finish.
	}
	select {
	case <-r.fed: // the feeder's panic, if any, is recorded
	default:
	}
	r.returned.Store(true)
	r.panicMu.Lock()
	v := r.panicked
	r.panicMu.Unlock()
	if v != nil {
		panic(v)
	}
}

func (r *run[T, R]) recoverPanic() {
	if v := recover(); v != nil {
		r.record(recovered(v))
		r.cancel()
	}
}

// recoverFeederPanic is recoverPanic for the feeder, which may outlive
// Run: a panic after Run has returned is raised again.
func (r *run[T, R]) recoverFeederPanic() {
	if v := recover(); v != nil {
		if r.returned.Load() {
			panic(v)
		}
		r.record(recovered(v))
		r.cancel()
	}
}

// record keeps the first panic, for stop to raise again.
func (r *run[T, R]) record(v *PanicError) {
	r.panicMu.Lock()
	defer r.panicMu.Unlock()
	if r.panicked == nil {
		r.panicked = v
	}
}

// work runs items until there are none, or until it is a worker more
// than the items waiting between attempts need (pool_spare.go).
func (r *run[T, R]) work() {
	defer r.wg.Done()
	defer r.recoverPanic()
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	w := &worker{Context: ctx, spares: &r.spares}
	defer w.exit()
	for {
		var j job[T]
		select {
		case next, ok := <-r.jobs:
			if !ok {
				return
			}
			j = next
		case <-r.ctx.Done():
			return // the feeder may be held in the input iterator (see start)
		}
		r.results <- r.do(w, j) // never lost: stop drains what the caller leaves
		if w.itemDone() {
			return
		}
	}
}

// do runs one item to its end, through the gate and the retry policy,
// with ctx, its worker's context.
func (r *run[T, R]) do(ctx context.Context, j job[T]) Result[T, R] {
	res := Result[T, R]{Index: j.index, Item: j.item}
	cost := Cost{}
	if r.p.Cost != nil {
		cost = r.p.Cost(j.item)
	}
	policy := r.p.Retry
	if policy.BudgetMode == BudgetAuto {
		policy.BudgetMode = BudgetWait // batch work: paced, never dropped
	}
	begin := time.Now()
	attempt := 0
	o, attempts, err := policy.run(ctx, r.gate, cost, func(ctx context.Context, permit *Permit) (Outcome, error) {
		attempt++
		// A panic in fn must not keep the slot: the gate outlives the
		// run. Done is a no-op once the attempt has reported.
		defer permit.Done(Outcome{Class: ClassCanceled})
		r.event(Event{Kind: EventStarted, Index: j.index, Attempt: attempt})
		w, _ := ctx.(*worker)
		if w != nil && w.retried.Load() {
			w.retried.Store(false)
		}
		v, err := r.fn(ctx, j.item)
		o := Outcome{Class: ClassOf(err)}
		if err != nil {
			if sdk, ok := sdkOutcome(err, time.Now()); ok && o.Class == sdk.Class {
				o = sdk // an SDK's refusal, with its Retry-After (classify_sdk.go)
			}
		}
		// A Transport that fn called ran its own retries: nine of the
		// Pool's around nine of its reached a failing API 81 times.
		o.retriedBelow = w != nil && o.Class.Retryable() && w.retried.Load()
		if o.Class == ClassTransient && ctx.Err() != nil {
			o.Class = ClassCanceled
		}
		o.Timeout = err != nil && isTimeout(err) && ctx.Err() == nil
		if err == nil && r.p.Usage != nil {
			o.Usage = r.p.Usage(v)
		}
		permit.Done(o)
		res.Value = v
		switch {
		case o.Class == ClassThrottled:
			r.event(Event{Kind: EventThrottled, Index: j.index, Attempt: attempt, Class: o.Class, Err: err})
			r.event(Event{Kind: EventRetry, Index: j.index, Attempt: attempt, Class: o.Class, Err: err})
		case o.Class.Retryable():
			r.event(Event{Kind: EventRetry, Index: j.index, Attempt: attempt, Class: o.Class, Err: err})
		}
		return o, err
	})
	res.Attempts, res.Elapsed = attempts, time.Since(begin)
	res.Class, res.Err = o.Class, err
	if err != nil && o.Class != ClassSharedUnavailable && ClassOf(err) == ClassSharedUnavailable {
		res.Class = ClassSharedUnavailable // a retry the outage refused: the item is not done, not failed
	}
	if err == nil && o.Class != ClassOK {
		res.Err = fmt.Errorf("sluice: item %d: %v", j.index, o.Class)
	}
	if attempts == 0 { // never admitted: the run or the gate stopped it
		res.Class = ClassOf(err)
		if errors.Is(err, ErrWouldExceedDeadline) {
			// The run's deadline comes before this item could start:
			// when every item asks the same, the items not yet handed
			// out would start later still, so none is. Those already in
			// line ahead of it go on. Items of their own costs are each
			// refused on their own: a large prompt that cannot start in
			// time ended a run whose small ones could have started at
			// once (outside review).
			if r.p.Cost == nil {
				r.lateOnce.Do(func() { close(r.late) })
			}
			res.Class = ClassCanceled
		}
		if r.ctx.Err() != nil {
			res.Class = ClassCanceled
		}
	}
	if res.Err == nil {
		r.event(Event{Kind: EventDone, Index: j.index, Attempt: attempts, Class: ClassOK})
	} else {
		r.event(Event{Kind: EventFailed, Index: j.index, Attempt: attempts, Class: res.Class, Err: res.Err})
	}
	return res
}

func (r *run[T, R]) event(e Event) {
	if r.p.OnEvent != nil {
		if r.gate != nil {
			e.Stats = r.gate.Stats()
		}
		r.p.OnEvent(e)
	}
}

// yieldInOrder yields results in input order, holding early finishers
// until the ones before them arrive. The window bounds how many that can
// be.
func (r *run[T, R]) yieldInOrder(yield func(Result[T, R]) bool) {
	pending := make(map[int]Result[T, R])
	next := 0
	for res := range r.results {
		pending[res.Index] = res
		for {
			ready, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			<-r.window
			if !yield(ready) {
				return
			}
		}
	}
}
