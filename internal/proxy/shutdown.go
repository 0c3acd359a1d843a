package proxy

import (
	"context"
	"errors"
	"time"
)

// When a Shutdown's grace runs out, the requests still waiting for
// admission were never sent: their connections were closed under them,
// and a client saw a socket error where any other refusal gets an
// answer it knows what to do with. So they are answered first, 503 with
// Retry-After, and given a moment to be written before the server
// closes what is left (the requests in flight).

// errShuttingDown is the cause of a queued request cancelled because the
// proxy is stopping.
var errShuttingDown = errors.New("proxy: stopping")

// shutdownAnswerTime is how long the refused requests have to be written
// before the connections close.
const shutdownAnswerTime = time.Second

// shutdownRetryAfter is the Retry-After of those answers, in seconds:
// about as soon as a restarted proxy listens again.
const shutdownRetryAfter = 5

// answerQueued cancels every request still queued with errShuttingDown
// and waits, at most shutdownAnswerTime, for the handlers to end.
func (s *Server) answerQueued() {
	s.endQueued()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownAnswerTime)
	defer cancel()
	_ = s.hs.Shutdown(ctx) // again: it returns once the handlers have ended
}

// shutdown is the closing context's: a still queued request leaves the
// queue and is cancelled, to be refused (refuse.go).
func (a *admission) shutdown() {
	if a.leave(expired) {
		a.cancel(errShuttingDown)
	}
}
