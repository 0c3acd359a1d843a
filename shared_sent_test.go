package sluice_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// sentStore is a Store whose tickets record what their calls were told:
// whether they were admitted unsent, and whether Sent came before Finish.
type sentStore struct {
	mu     sync.Mutex
	events []string
}

func (s *sentStore) Share(string, sluice.Limits) sluice.Shared { return &sentShared{s} }

func (s *sentStore) record(e string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *sentStore) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.events...)
}

type sentShared struct{ s *sentStore }

func (h *sentShared) Admit(_ context.Context, c sluice.Cost) (sluice.Ticket, time.Duration, error) {
	if c.Unsent() {
		h.s.record("admit unsent")
	} else {
		h.s.record("admit")
	}
	return sentTicket{h.s}, 0, nil
}

func (h *sentShared) Changed() <-chan struct{} { return nil }
func (h *sentShared) Pause(time.Time)          {}
func (h *sentShared) Learn(sluice.Limits)      {}

type sentTicket struct{ s *sentStore }

func (t sentTicket) Sent()                 { t.s.record("sent") }
func (t sentTicket) Finish(sluice.Outcome) { t.s.record("finish") }

// A window kept by a Store counts a Transport's call from when it leaves,
// as one in memory does: the Shared is asked for the call unsent, and its
// ticket told Sent once the request is written. A call never written is
// told nothing but Finish, which dates it. Limits with no window ask
// nothing of the kind. (Sent may run concurrently with Finish, on
// net/http's goroutine: the events are compared in sorted order.)
func TestTransportTellsASharedWindowWhenTheCallLeft(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	refuse := func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("no route to host") }
	window := sluice.Rate{N: 10, Per: time.Second}
	for _, c := range []struct {
		name   string
		window sluice.Rate
		dial   func(context.Context, string, string) (net.Conn, error)
		want   string
	}{
		{"a window, sent", window, nil, "[admit unsent finish sent]"},
		{"a window, never written", window, refuse, "[admit unsent finish]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := &sentStore{}
			limits := sluice.Limits{Window: c.window, Rate: sluice.PerSecond(100), Store: st}
			base := limits.HTTPTransport()
			if c.dial != nil {
				base.DialContext = c.dial
			}
			tr := &sluice.Transport{Base: base, Limits: limits, Retry: sluice.RetryPolicy{MaxAttempts: 1}}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
			if err == nil {
				resp.Body.Close()
			}
			events := st.got()
			slices.Sort(events)
			if got := fmt.Sprint(events); got != c.want {
				t.Errorf("the shared limits were told %s, want %s", got, c.want)
			}
		})
	}
}
