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
// Retry-After, the event streams still running are ended with an error
// event (streamcut.go), and both are given a moment to be written before
// the server closes what is left (the requests in flight).

// errShuttingDown is what a request still waiting for admission gets
// when the proxy stops.
var errShuttingDown = errors.New("proxy: stopping")

// shutdownAnswerTime is how long the refused requests have to be written
// before the connections close.
const shutdownAnswerTime = time.Second

// shutdownRetryAfter is the Retry-After of those answers, in seconds:
// about as soon as a restarted proxy listens again.
const shutdownRetryAfter = 5

// answerQueued halts every route's gates with errShuttingDown, as a run
// halts its Transport on an interrupt: the requests waiting for admission
// end with it, to be refused (refuse.go), and none is admitted after.
// Then it waits, at most shutdownAnswerTime, for the handlers to end.
func (s *Server) answerQueued() {
	for _, r := range s.routes {
		r.tr.Halt(errShuttingDown)
		r.streams.cutAll()   // before their connections close (streamcut.go)
		r.live.cutAdmitted() // answered, not closed under them (shutdown_cut.go)
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownAnswerTime)
	defer cancel()
	_ = s.hs.Shutdown(ctx) // again: it returns once the handlers have ended
}
