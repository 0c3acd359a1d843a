package redis

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

// strictServer is the judge: a loopback API that records when each call
// arrives and how many are in flight, with its own plain code.
type strictServer struct {
	*httptest.Server
	mu       sync.Mutex
	arrivals []time.Time
	inFlight int
	most     int
	hold     time.Duration // how long each call takes
}

func newStrictServer(t testing.TB, hold time.Duration) *strictServer {
	s := &strictServer{hold: hold}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/warm" {
			return // a caller opening its connections before it is judged
		}
		s.mu.Lock()
		s.arrivals = append(s.arrivals, time.Now())
		s.inFlight++
		s.most = max(s.most, s.inFlight)
		s.mu.Unlock()
		time.Sleep(s.hold)
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

// worstWindow returns the most arrivals in any window of length d.
func (s *strictServer) worstWindow(d time.Duration) int {
	s.mu.Lock()
	ts := slices.Clone(s.arrivals)
	s.mu.Unlock()
	return apitest.BusiestWindow(ts, d)
}

func (s *strictServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.arrivals)
}

func (s *strictServer) mostInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.most
}
