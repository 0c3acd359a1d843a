package sluice

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

// gateCount returns how many gates t keeps.
func (t *Transport) gateCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.gates)
}

// visitHosts sends one GET through tr to each of hosts hosts in turn, one
// every every, and returns the most that count said after any of them.
func visitHosts(t *testing.T, tr *Transport, hosts int, every time.Duration, count func() int) (most int) {
	t.Helper()
	for i := range hosts {
		resp, err := tr.RoundTrip(mustRequest(t, fmt.Sprintf("http://h%d.test/", i)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		most = max(most, count())
		time.Sleep(every)
	}
	return most
}

// TestTransportForgetsIdleGates protects an agent fetching from thousands
// of hosts: the Transport keeps the gates of the recent ones, not all.
func TestTransportForgetsIdleGates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
		tr := &Transport{Base: apitest.RoundTripper{Handler: h}}
		const hosts, every = 10000, 100 * time.Millisecond
		most := visitHosts(t, tr, hosts, every, tr.gateCount)
		// A minute's hosts are kept, and twice that before a sweep.
		if bound := 2*int(minGateMemory/every) + 2; most > bound {
			t.Errorf("kept up to %d gates for %d hosts, one every %v; want at most %d", most, hosts, every, bound)
		}
		if s := tr.Stats(); s.Admitted != hosts || s.Completed != hosts {
			t.Errorf("stats %+v; want the forgotten gates' %d calls counted", s, hosts)
		}
	})
}

// TestTransportKeepsGatesThatRemember protects what a gate knows: one
// with a call in flight, a pause in force, a window still open, or a halt
// of its own is not forgotten, however many other gates come and go.
func TestTransportKeepsGatesThatRemember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "body") })
		tr := &Transport{Base: apitest.RoundTripper{Handler: h}}
		inFlight, err := tr.RoundTrip(mustRequest(t, "http://in-flight.test/"))
		if err != nil {
			t.Fatal(err)
		}
		defer inFlight.Body.Close() // unread: the call is still in flight
		kept := map[string]*Gate{"in-flight.test": tr.Gate("in-flight.test")}
		kept["paused.test"] = tr.Gate("paused.test")
		kept["paused.test"].PauseUntil(time.Now().Add(time.Hour))
		kept["halted.test"] = tr.Gate("halted.test")
		kept["halted.test"].Halt(ErrQuotaExhausted)

		hourly := &Transport{Base: tr.Base, Limits: Limits{Window: Rate{N: 100, Per: time.Hour}}}
		windowOpen := hourly.Gate("api.test")

		const others = 10 * minSweep
		for round := range 2 { // the second round's sweeps find the first's idle
			time.Sleep(10 * time.Minute)
			for i := range others {
				tr.Gate(fmt.Sprintf("other%d-%d.test", round, i))
				hourly.Gate(fmt.Sprintf("other%d-%d.test", round, i))
			}
		}
		for key, g := range kept {
			if tr.Gate(key) != g {
				t.Errorf("the gate of %s was forgotten", key)
			}
		}
		if hourly.Gate("api.test") != windowOpen {
			t.Errorf("a gate with an hourly window was forgotten after 10 minutes")
		}
		if n := tr.gateCount(); n > others+len(kept) {
			t.Errorf("%d gates kept; the idle ones were not forgotten", n)
		}
	})
}

func mustRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// After a burst of keys, traffic to a few: the burst's gates are swept
// within a sweep period or two of going idle. They stayed until as many
// new keys came again (4 KiB each: 50,000 hosts held 200 MiB).
func TestTransportForgetsABurstOnceIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
		tr := &Transport{Base: apitest.RoundTripper{Handler: h}}
		get := func(url string) {
			resp, err := tr.RoundTrip(mustRequest(t, url))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		const burst = 1000
		for i := range burst {
			get(fmt.Sprintf("http://burst%d.test/", i))
		}
		for range 4 * int((minGateMemory+2*sweepEvery)/time.Second) { // one call a second to one host
			time.Sleep(time.Second)
			get("http://steady.test/")
		}
		if n := tr.gateCount(); n > minSweep {
			t.Errorf("%d gates kept after the burst went idle; want at most %d", n, minSweep)
		}
	})
}
