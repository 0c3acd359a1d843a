package sluice

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pipedAPI serves an API over pipeNet connections whose nth takes dial(n)
// to open, and notes when each request arrives; with closeEvery > 0 it
// closes every closeEvery-th request's connection, so that clients dial
// again all through a batch.
type pipedAPI struct {
	pn       *pipeNet
	srv      *http.Server
	served   chan struct{}
	mu       sync.Mutex
	arrivals []time.Time
}

func startPipedAPI(api http.Handler, dial func(n int32) time.Duration, closeEvery int32) *pipedAPI {
	var dials, calls atomic.Int32
	p := &pipedAPI{pn: newPipeNet(func() time.Duration { return dial(dials.Add(1)) }), served: make(chan struct{})}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.arrivals = append(p.arrivals, time.Now())
		p.mu.Unlock()
		if closeEvery > 0 && calls.Add(1)%closeEvery == 0 {
			w.Header().Set("Connection", "close")
		}
		api.ServeHTTP(w, r)
	})}
	go func() {
		defer close(p.served)
		p.srv.Serve(p.pn)
	}()
	return p
}

// base returns an http.Transport for limits that dials the API.
func (p *pipedAPI) base(limits Limits) *http.Transport {
	tr := limits.HTTPTransport()
	tr.DialContext = p.pn.DialContext
	return tr
}

// stop closes the server and waits for it.
func (p *pipedAPI) stop() {
	p.srv.Close()
	<-p.served
}

// checkArrivals fails t when more than limit requests arrived inside any
// second.
func (p *pipedAPI) checkArrivals(t *testing.T, limit int) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := limit; i < len(p.arrivals); i++ {
		if d := p.arrivals[i].Sub(p.arrivals[i-limit]); d < time.Second {
			t.Errorf("arrivals %d to %d took %v: %d in a second", i-limit, i, d, limit+1)
			return
		}
	}
}
