package batch

import (
	"context"
	"iter"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/input"
)

// A crew sends a run's items, one worker per concurrency slot, plus one
// more for each item waiting between attempts.
//
// Why not a sluice.Pool: a Pool has a fixed number of workers. With one a
// slot, an item backing off (or waiting for the retry budget) holds a
// worker but no slot, so the slot stays idle until the item is done. With
// two a slot (what the runner had), half the workers always wait in the
// gate's line: every item's worker queued behind the others, parked and
// was woken again, which cost more CPU per item than any other part of the
// runner's own work (issue 15: the Gate's slow path, selectgo and the
// scheduler, 12% of a run against an instant server). The crew keeps both:
// a worker takes its own slot back with its next item (the gate's fast
// path), and when an attempt fails in a way the Transport retries, the
// item's watchedBase tells the crew, which starts a spare worker for the
// time the item waits (up to one spare a slot, as before). A worker left
// over once the item goes on again ends after its item.
type crew struct {
	slots   int  // workers that always run
	ordered bool // results in input order
	call    func(context.Context, input.Item) (response, error)

	ctx     context.Context
	cancel  context.CancelFunc
	jobs    chan job
	results chan outcome
	window  chan struct{} // ordered: one token per item between the feeder and the caller
	wg      sync.WaitGroup

	mu      sync.Mutex
	running int // workers alive
	between int // items waiting between attempts

	panicOnce sync.Once
	panicked  any
}

// job is an item and its place in the input.
type job struct {
	index int
	item  input.Item
}

// outcome is what an item's call came back with.
type outcome struct {
	index   int
	Item    input.Item
	Value   response
	Err     error
	Elapsed time.Duration
}

// runCrew calls call for every item with slots workers (and spares, see
// crew) and yields the outcomes, in completion order or, when ordered, in
// input order. Breaking out of the loop, or ctx ending, stops the run: no
// new item is started, calls in flight see their context cancelled, and
// the loop ends once every worker has. Items never handed to a worker are
// not yielded. A panic in call is raised again in the caller.
func runCrew(ctx context.Context, slots int, ordered bool, items iter.Seq[input.Item], call func(context.Context, input.Item) (response, error)) iter.Seq[outcome] {
	return func(yield func(outcome) bool) {
		c := newCrew(ctx, slots, ordered, call)
		defer c.stop()
		c.start(items)
		if ordered {
			c.yieldInOrder(yield)
			return
		}
		for o := range c.results {
			if !yield(o) {
				return
			}
		}
	}
}

func newCrew(ctx context.Context, slots int, ordered bool, call func(context.Context, input.Item) (response, error)) *crew {
	slots = max(slots, 1)
	ctx, cancel := context.WithCancel(ctx)
	c := &crew{
		slots: slots, ordered: ordered, call: call,
		ctx: ctx, cancel: cancel,
		jobs:    make(chan job),
		results: make(chan outcome, slots),
	}
	if ordered {
		// As a Pool's default window for two workers a slot: how far
		// ahead of the slowest item the others may run.
		c.window = make(chan struct{}, 8*slots)
	}
	c.running = slots
	c.wg.Add(slots)
	for range slots {
		go c.work()
	}
	return c
}

// start feeds the items to the workers from a goroutine of its own, and
// closes results once the workers are done.
func (c *crew) start(items iter.Seq[input.Item]) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(c.jobs)
		defer c.recoverPanic()
		i := 0
		for it := range items {
			if c.window != nil {
				select {
				case c.window <- struct{}{}:
				case <-c.ctx.Done():
					return
				}
			}
			select {
			case c.jobs <- job{i, it}:
			case <-c.ctx.Done():
				return
			}
			i++
		}
	}()
	go func() {
		c.wg.Wait()
		close(c.results)
	}()
}

// stop cancels the run, waits for every goroutine, and re-raises a panic.
func (c *crew) stop() {
	c.cancel()
	for range c.results {
		// Drain so that blocked workers can finish.
	}
	if c.panicked != nil {
		panic(c.panicked)
	}
}

func (c *crew) recoverPanic() {
	if v := recover(); v != nil {
		c.panicOnce.Do(func() { c.panicked = v })
		c.cancel()
	}
}

// work sends items until there are none, or until it is a spare no item
// needs any longer.
func (c *crew) work() {
	defer c.wg.Done()
	defer c.recoverPanic()
	// Each attempt's context (the Transport's, and net/http's under it)
	// registers with the nearest cancellable context above it: a
	// worker's own, rather than the crew's, which every worker would
	// lock for every attempt.
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	for j := range c.jobs {
		c.results <- c.do(ctx, j) // never lost: stop drains what the caller leaves
		if c.spare() {
			return
		}
	}
}

// do sends one item, retries included.
func (c *crew) do(ctx context.Context, j job) outcome {
	o := outcome{index: j.index, Item: j.item}
	if err := ctx.Err(); err != nil {
		o.Err = err // never sent: the run stopped
		return o
	}
	begin := time.Now()
	ic := &itemCall{Context: ctx, crew: c}
	o.Value, o.Err = c.call(ic, j.item)
	ic.goingOn()
	o.Elapsed = time.Since(begin)
	return o
}

// spare reports whether the calling worker is one more than the slots and
// the items waiting between attempts need, and if so counts it gone.
func (c *crew) spare() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running > c.slots+c.between {
		c.running--
		return true
	}
	return false
}

// waiting counts an item that waits between attempts, and starts a spare
// worker for it, up to one a slot, so that its slot keeps working.
func (c *crew) waiting() {
	c.mu.Lock()
	c.between++
	grow := c.running < c.slots+c.between && c.running < 2*c.slots
	if grow {
		c.running++
		c.wg.Add(1) // the calling worker's own count keeps wg above zero
	}
	c.mu.Unlock()
	if grow {
		go c.work()
	}
}

// goingOn counts an item that waited between attempts as going on (its
// next attempt is sent, or it is done); the spare ends after its item.
func (c *crew) goingOn() {
	c.mu.Lock()
	c.between--
	c.mu.Unlock()
}

// yieldInOrder yields outcomes in input order, holding early finishers
// until the ones before them arrive. The window bounds how many that can
// be.
func (c *crew) yieldInOrder(yield func(outcome) bool) {
	pending := make(map[int]outcome)
	next := 0
	for o := range c.results {
		pending[o.index] = o
		for {
			ready, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			<-c.window
			if !yield(ready) {
				return
			}
		}
	}
}

// itemCall is the context of one item's call: it carries the item's
// RoundTripInfo for the Transport to fill in, and tells the crew when the
// item waits between attempts (watchedBase). One allocation for both,
// rather than a context.WithValue each.
type itemCall struct {
	context.Context
	crew    *crew
	info    sluice.RoundTripInfo
	between bool // only the item's own goroutine reads and writes it
}

// itemCallKey finds an itemCall among a request's contexts.
type itemCallKey struct{}

// Value returns the itemCall itself for itemCallKey.
func (c *itemCall) Value(key any) any {
	if key == (itemCallKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// attemptFailed is called when an attempt failed in a way the Transport
// may retry: the item now waits for its next attempt.
func (c *itemCall) attemptFailed() {
	if !c.between && c.crew != nil {
		c.between = true
		c.crew.waiting()
	}
}

// goingOn is called when the item's next attempt is sent, or its call
// has ended.
func (c *itemCall) goingOn() {
	if c.between {
		c.between = false
		c.crew.goingOn()
	}
}
