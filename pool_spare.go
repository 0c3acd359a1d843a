package sluice

import (
	"context"
	"sync"
	"sync/atomic"
)

// A Pool runs one worker per unit of Workers, plus a spare for each item
// waiting between attempts. This file keeps that count.
//
// Why not simply more workers: with one a slot, an item backing off (or
// waiting for the retry budget) holds a worker but no slot, so the slot
// it left idles until the item is done; with two a slot, half the workers
// always wait in the gate's line, parked and woken again for every item,
// which against a fast API cost more CPU than anything else the batch
// runner did (issue 15: the Gate's slow path and the scheduler, 12% of a
// run against an instant server). So a worker takes its own slot back
// with its next item (the gate's fast path), and the retry loop (runTo),
// which alone knows when an item starts and stops waiting between
// attempts, tells the item's worker, found through the context: a spare
// worker runs while the item waits, up to Workers spares, and a worker
// more than the waiting items need ends after its item.

// spares counts a run's workers and its items waiting between attempts.
type spares struct {
	mu      sync.Mutex
	workers int    // the workers that always run: Pool.Workers
	running int    // workers alive
	between int    // items waiting between attempts
	start   func() // starts one more worker; running already counts it
	// extra is running - workers, kept beside them so that a worker's
	// check after each item (itemDone) needs no lock while no spare runs.
	extra atomic.Int32
}

// worker is a worker's context: its own, cancelled when the worker ends,
// so that every attempt's context (the Transport's, and net/http's under
// it) registers there rather than in the run's, which every worker would
// lock for every attempt. It also tells the run when the worker's item
// waits between attempts (waiting, goingOn): one allocation per worker,
// none per item.
type worker struct {
	context.Context
	spares *spares
	waits  atomic.Int32 // the item's waits in progress; changed under spares.mu
	ended  bool         // under spares.mu: a late call changes nothing
	// retried is set by a Transport called with the item's context when
	// it ran its own retries (RetryPolicy), cleared by the Pool before
	// each attempt: the Pool does not retry them again.
	retried atomic.Bool
}

// betweenKey finds the worker among an item's contexts.
type betweenKey struct{}

// Value returns the worker itself for betweenKey.
func (w *worker) Value(key any) any {
	if key == (betweenKey{}) {
		return w
	}
	return w.Context.Value(key)
}

// workerOf returns the Pool worker whose item ctx belongs to, nil outside
// a Pool. A lookup through the context's chain: called only between
// attempts, never on a call's straight path.
func workerOf(ctx context.Context) *worker {
	w, _ := ctx.Value(betweenKey{}).(*worker)
	return w
}

// waiting counts the worker's item as waiting between attempts and starts
// a spare worker for it, up to one per unit of Workers, so that the slot
// it left keeps working. Waits may nest (a Pool's retries around a
// Transport's): the item counts once. A nil worker does nothing.
func (w *worker) waiting() {
	if w == nil {
		return
	}
	s := w.spares
	s.mu.Lock()
	grow := false
	if !w.ended && w.waits.Add(1) == 1 {
		s.between++
		grow = s.running < s.workers+s.between && s.running < 2*s.workers
		if grow {
			s.running++
			s.extra.Add(1)
		}
	}
	s.mu.Unlock()
	if grow {
		s.start()
	}
}

// goingOn counts the worker's item as going on: its next attempt is
// made, or its call ends. A worker left over ends after its item.
func (w *worker) goingOn() {
	if w == nil {
		return
	}
	s := w.spares
	s.mu.Lock()
	if w.waits.Load() > 0 && w.waits.Add(-1) == 0 {
		s.between--
	}
	s.mu.Unlock()
}

// itemDone is called after each item; it reports whether the worker is
// one more than Workers and the waiting items need, and if so counts it
// gone. Without spares it costs two atomic loads.
func (w *worker) itemDone() (end bool) {
	s := w.spares
	if s.extra.Load() <= 0 && w.waits.Load() == 0 {
		return false // no more workers than Workers: none is left over
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w.forget()
	if s.running > s.workers+s.between {
		w.end()
		return true
	}
	return false
}

// forget stops counting a wait the item's call left behind (a goroutine
// of fn's still retrying). s.mu is held.
func (w *worker) forget() {
	if w.waits.Load() > 0 {
		w.waits.Store(0)
		w.spares.between--
	}
}

// end counts the worker gone. s.mu is held.
func (w *worker) end() {
	if w.ended {
		return
	}
	w.ended = true
	s := w.spares
	s.running--
	s.extra.Add(-1)
}

// exit counts the worker gone, if itemDone has not already: the items ran
// out, or fn panicked.
func (w *worker) exit() {
	s := w.spares
	s.mu.Lock()
	defer s.mu.Unlock()
	w.forget()
	w.end()
}
