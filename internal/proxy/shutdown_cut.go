package proxy

import (
	"context"
	"errors"
	"sync"
)

// When the grace runs out, a request at the upstream was cut by closing
// its client's connection: the client saw the connection end with no
// answer, though the upstream had its request and may have acted on it
// (billed it). Now its upstream call is cancelled first, with
// errShutdownCut, and the client gets an answer saying so (refuse.go's
// fail), in the moment answerQueued leaves before the connections close.

// errShutdownCut is the cause of an upstream call cut at the end of a
// Shutdown's grace.
var errShutdownCut = errors.New("proxy: stopping: the call at the upstream was cut")

// liveSet is the admissions of a route that have not ended, so that a
// Shutdown can cut those at the upstream with an answer. The zero value
// is ready; it is safe for concurrent use.
type liveSet struct {
	mu sync.Mutex
	m  map[*admission]struct{}
	// held are the upstream calls whose clients left, held until the
	// upstream answers (holdForUpstream), by the cancel that ends each;
	// stopping says a Shutdown has begun, which ends them at once:
	// nobody waits for their answers.
	held     map[*admission]context.CancelCauseFunc
	stopping bool
}

// abandoned notes that a's client left while its call is held at the
// upstream, end ending the hold; at once when the proxy is stopping.
func (l *liveSet) abandoned(a *admission, end context.CancelCauseFunc) {
	l.mu.Lock()
	stopping := l.stopping
	if !stopping {
		if l.held == nil {
			l.held = make(map[*admission]context.CancelCauseFunc)
		}
		l.held[a] = end
	}
	l.mu.Unlock()
	if stopping {
		end(errShutdownCut)
	}
}

// cutAbandoned ends every held call whose client has left, and every one
// whose client leaves from now on: a Shutdown waits for no such answer.
func (l *liveSet) cutAbandoned() {
	l.mu.Lock()
	l.stopping = true
	held := l.held
	l.held = nil
	l.mu.Unlock()
	for _, end := range held {
		end(errShutdownCut)
	}
}

func (l *liveSet) add(a *admission) {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[*admission]struct{})
	}
	l.m[a] = struct{}{}
	l.mu.Unlock()
}

func (l *liveSet) remove(a *admission) {
	l.mu.Lock()
	delete(l.m, a)
	delete(l.held, a)
	l.mu.Unlock()
}

// cutAdmitted cancels the upstream calls of the admissions the gate let
// in, with errShutdownCut. Those still queued are the Halt's to refuse.
func (l *liveSet) cutAdmitted() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for a := range l.m {
		if a.state.Load() == admitted {
			a.cancel(errShutdownCut)
		}
	}
}
