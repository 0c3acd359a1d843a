package redis

import "context"

// A window counts a Transport's call from when its request has left
// (sluice.SentTicket): admit.lua takes it pending, and sent.lua dates it
// once the request is written. The admission stays one round trip; the
// dating goes off the caller's path, as releases do, and batched: the
// calls sent while one script is on its way go together in the next, so
// that a busy process sends about one script per round trip, not one
// per call.

// sentCall is a call whose request has left, waiting to be dated.
type sentCall struct {
	g  *shared
	id string
	wn int // its window weight: members id:1 … id:wn
}

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
	s.sentQueue = append(s.sentQueue, sentCall{g: g, id: id, wn: wn})
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
	var spare []sentCall
	for {
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
	args := make([]any, 0, 2*len(gates)+2*len(calls))
	for _, g := range gates {
		keys = append(keys, g.keys.pending, g.keys.window)
		args = append(args, g.config().windowUs, len(byGate[g]))
		for _, c := range byGate[g] {
			args = append(args, c.id, c.wn)
		}
	}
	if _, err := s.run(context.Background(), sentScript, keys, args...); err != nil {
		s.down(err)
	}
}
