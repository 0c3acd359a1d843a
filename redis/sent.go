package redis

import (
	"context"
	"time"
)

// A window counts a Transport's call from when its request has left
// (sluice.SentTicket): admit.lua takes it pending, and sent.lua dates it
// once the request is written. The admission stays one round trip; the
// dating goes off the caller's path, as releases do, and batched: a call
// waits sentLinger for others to go in one script with it, so that a
// busy process sends a script every few milliseconds, not one per call
// (sent as soon as they queued, scripts carried little more than a call
// each: calls are admitted one at a time, a round trip apart).
//
// The script dates each call at the server's time less how long ago,
// by this process's monotonic clock, the call was sent: that time is
// measured up to the moment the script leaves, and the server reads its
// clock after the script arrives, so the date is never before the
// request left, and later by no more than the script's way there. The
// queue and the linger thus cost no precision; dated at the script's
// own time, a call was later by them and by the wait for an answer to
// the batch before.

// sentCall is a call whose request has left, waiting to be dated.
type sentCall struct {
	g  *shared
	id string
	wn int       // its window weight: members id:1 … id:wn
	at time.Time // when its request left, by the monotonic clock
}

// sentLinger is how long a call queued waits for others to go in one
// script with it. It delays no admission: while pending, a call counts
// in every window, and a caller refused for it is told to come back a
// window later, when it has long been dated (at the time it left).
const sentLinger = 5 * time.Millisecond

// maxSentBatch bounds the calls one sent.lua dates, so that a long queue
// (Redis slow to answer) does not hold the server for one long script.
const maxSentBatch = 512

// dateLater queues a call to be dated by sent.lua in the background. It
// returns false, queuing nothing, when the store is closed or Redis is
// known down: the call's Finish dates it then, or its horizon lapses.
func (s *Store) dateLater(g *shared, id string, wn int) bool {
	if s.health.isDown() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.sentQueue = append(s.sentQueue, sentCall{g: g, id: id, wn: wn, at: time.Now()})
	if !s.dating {
		s.dating = true
		s.wg.Add(1)
		go s.dateSent()
	}
	return true
}

// dateSent sends the queued calls to sent.lua until the queue is empty.
// Close waits for it.
func (s *Store) dateSent() {
	defer s.wg.Done()
	linger := time.NewTimer(0)
	defer linger.Stop()
	var spare []sentCall
	for {
		s.mu.Lock()
		var oldest time.Time
		if len(s.sentQueue) > 0 {
			oldest = s.sentQueue[0].at
		}
		s.mu.Unlock()
		if wait := sentLinger - time.Since(oldest); !oldest.IsZero() && wait > 0 {
			linger.Reset(wait)
			select {
			case <-linger.C:
			case <-s.stop: // closing: sent at once
			}
		}
		s.mu.Lock()
		batch := s.sentQueue
		s.sentQueue = spare[:0]
		if len(batch) == 0 {
			s.dating = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		for rest := batch; len(rest) > 0; {
			n := min(len(rest), maxSentBatch)
			s.runSent(rest[:n])
			rest = rest[n:]
		}
		clear(batch)
		spare = batch[:0]
	}
}

// runSent dates calls in one script, their gates' keys in pairs. A
// failure leaves them pending: their horizon lapses, no longer renewed,
// and they count from then on, later than they left.
func (s *Store) runSent(calls []sentCall) {
	var gates []*shared
	byGate := make(map[*shared][]sentCall)
	for _, c := range calls {
		if _, ok := byGate[c.g]; !ok {
			gates = append(gates, c.g)
		}
		byGate[c.g] = append(byGate[c.g], c)
	}
	keys := make([]string, 0, 2*len(gates))
	args := make([]any, 0, 2*len(gates)+3*len(calls))
	now := time.Now()
	for _, g := range gates {
		keys = append(keys, g.keys.pending, g.keys.window)
		args = append(args, g.config().windowUs, len(byGate[g]))
		for _, c := range byGate[g] {
			args = append(args, c.id, c.wn, int64(max(now.Sub(c.at), 0)/time.Microsecond))
		}
	}
	if _, err := s.run(context.Background(), sentScript, keys, args...); err != nil {
		s.down(err)
	}
}
