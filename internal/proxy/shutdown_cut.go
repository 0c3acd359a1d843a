package proxy

import (
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
