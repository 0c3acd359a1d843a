package mock

import (
	"context"
	"net/http"
	"time"
)

// reply writes the successful response of one admitted request: headers
// first, then a body or stream paced by the output rate and, for a slow
// body, dribbled out.
type reply struct {
	s    *Server
	w    http.ResponseWriter
	rc   *http.ResponseController
	ctx  context.Context
	cost cost
	slow time.Duration // extra time to spread over the body (SlowBodies)
}

// start sends the 200 status with fresh rate-limit headers and counts the
// request accepted. It returns how many requests have been accepted, this
// one included.
func (p *reply) start(contentType string) int64 {
	n, snap := p.s.accept(p.cost)
	h := p.w.Header()
	p.s.rateHeaders(h, snap)
	h.Set("Content-Type", contentType)
	p.w.WriteHeader(http.StatusOK)
	return n
}

// flush sends what is buffered to the client.
func (p *reply) flush() {
	p.rc.Flush() // a writer that cannot flush sends everything at the end
}

// pause waits d, reporting false if the client went away first.
func (p *reply) pause(d time.Duration) bool { return p.s.pause(p.ctx, d) }

// generation returns how long the model takes to produce n output tokens.
func (p *reply) generation(n int64) time.Duration {
	if p.s.cfg.OutputRate == 0 || n <= 0 {
		return 0
	}
	return secondsUp(float64(n) / p.s.cfg.OutputRate)
}

// slowPieces is how many pieces a slow body is cut into.
const slowPieces = 16

// body writes b once gen has passed, spread over p.slow if the body is a
// slow one. The headers are flushed first whenever the body will take
// time, so that the latency is the time to first byte.
func (p *reply) body(b []byte, gen time.Duration) {
	if gen > 0 || p.slow > 0 {
		p.flush()
	}
	if !p.pause(gen) {
		return
	}
	if p.slow <= 0 {
		p.w.Write(b)
		return
	}
	for i := range slowPieces {
		if !p.pause(p.slow / slowPieces) {
			return
		}
		if _, err := p.w.Write(b[len(b)*i/slowPieces : len(b)*(i+1)/slowPieces]); err != nil {
			return
		}
		p.flush()
	}
}
