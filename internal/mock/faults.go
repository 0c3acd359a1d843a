package mock

import (
	"net"
	"net/http"
	"time"
)

// fault is what fault injection decided for one admitted request.
type fault struct {
	status int           // an injected failure, or 0
	reset  bool          // close the connection without answering
	slow   time.Duration // extra time to dribble a successful body over
}

// Slow bodies take between slowMin and slowMin+slowSpread longer.
const (
	slowMin    = time.Second
	slowSpread = time.Second
)

// rollFault decides the fault of one admitted request. One draw decides
// failure or reset and a second one a slow body, every time, so that the
// proportions hold exactly for any fixed seed.
func (s *Server) rollFault() fault {
	cfg := s.cfg
	if cfg.Fail == 0 && cfg.Resets == 0 && cfg.SlowBodies == 0 {
		return fault{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var f fault
	switch u := s.faultRand.Float64(); {
	case u < cfg.Fail:
		statuses := s.api.failStatuses()
		f.status = statuses[s.faultRand.IntN(len(statuses))]
	case u < cfg.Fail+cfg.Resets:
		f.reset = true
	}
	if s.faultRand.Float64() < cfg.SlowBodies {
		f.slow = slowMin + time.Duration(s.faultRand.Int64N(int64(slowSpread)))
	}
	return f
}

// resetConnection drops the request's connection without a response: a TCP
// reset where the connection can be hijacked, otherwise an aborted handler
// (which an HTTP/2 server turns into a stream reset, and which reaches a
// direct caller of ServeHTTP as a panic).
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0) // close with RST, not FIN: "connection reset by peer"
	}
	conn.Close()
}
