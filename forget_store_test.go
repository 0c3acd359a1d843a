package sluice

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

// closingStore is a Store whose Shareds count their Close calls by key,
// and admit everything.
type closingStore struct {
	mu     sync.Mutex
	shared map[string]int // key -> Shares not yet closed
}

func (s *closingStore) Share(key string, _ Limits) Shared {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shared[key]++
	return closingShared{s: s, key: key}
}

func (s *closingStore) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, k := range s.shared {
		n += k
	}
	return n
}

type closingShared struct {
	s   *closingStore
	key string
}

func (c closingShared) Admit(context.Context, Cost) (Ticket, time.Duration, error) {
	return closingTicket{}, 0, nil
}
func (closingShared) Changed() <-chan struct{} { return nil }
func (closingShared) Pause(time.Time)          {}
func (closingShared) Learn(Limits)             {}
func (c closingShared) Close() error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.shared[c.key]--
	return nil
}

type closingTicket struct{}

func (closingTicket) Finish(Outcome) {}

// A gate the Transport forgets closes its Shared, so that a store (Redis:
// a subscription and its state per key) lets go of it too: a redis Store
// kept every key ever seen (outside review).
func TestForgottenGateClosesItsShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
		st := &closingStore{shared: map[string]int{}}
		tr := &Transport{Base: apitest.RoundTripper{Handler: h}, Limits: Limits{Store: st}}
		const hosts, every = 2000, 100 * time.Millisecond
		most := visitHosts(t, tr, hosts, every, st.open)
		if bound := 2*int(minGateMemory/every) + 2; most > bound {
			t.Errorf("the store kept up to %d keys open for %d hosts, one every %v; want at most %d", most, hosts, every, bound)
		}
		if kept := tr.gateCount(); st.open() != kept {
			t.Errorf("%d keys open in the store, %d gates kept; want the same", st.open(), kept)
		}
	})
}
