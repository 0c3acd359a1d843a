package sluice

import (
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

// A response body closed while another goroutine reads it to its end
// gives the slot back exactly once (run with -race), from several
// goroutines.
func TestTransportBodyCloseRacingEOFReleasesOnce(t *testing.T) {
	tr := &Transport{Base: apitest.Instant{}, Limits: Limits{Concurrency: 4, FixedConcurrency: true}}
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 80 {
				resp, err := client.Get("http://api.example/v1/x")
				if err != nil {
					t.Error(err)
					return
				}
				var both sync.WaitGroup
				both.Go(func() { io.Copy(io.Discard, resp.Body) })
				both.Go(func() { resp.Body.Close() })
				both.Wait()
			}
		})
	}
	wg.Wait()
	s := tr.Stats()
	if want := int64(4 * 80); s.InFlight != 0 || s.Completed != want {
		t.Errorf("stats %+v; want nothing in flight and %d completed", s, want)
	}
}

// trackedBody is a response body whose collection is reported on gone.
type trackedBody struct {
	io.Reader
	gone chan struct{}
}

func (*trackedBody) Close() error { return nil }

// tracking answers every request with a trackedBody, reporting its
// collection on gone.
type tracking struct{ gone chan struct{} }

func (rt tracking) RoundTrip(req *http.Request) (*http.Response, error) {
	b := &trackedBody{Reader: strings.NewReader(`{"ok":true}`)}
	runtime.AddCleanup(b, func(gone chan struct{}) { gone <- struct{}{} }, rt.gone)
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: b, Request: req}, nil
}

// A response read, closed and dropped is garbage, with its base's body,
// even while a response that came after it is still held: the bodies
// came from slabs of 26, where one body kept alive kept the other 25, and
// the responses they wrapped, for the collector to mark every cycle.
func TestTransportBodyDoesNotOutliveItsResponse(t *testing.T) {
	gone := make(chan struct{}, 1)
	tr := &Transport{Base: tracking{gone}, Limits: Limits{Concurrency: 4, FixedConcurrency: true}}
	client := &http.Client{Transport: tr}
	get := func() *http.Response {
		resp, err := client.Get("http://api.example/v1/x")
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	first := get()
	io.Copy(io.Discard, first.Body)
	first.Body.Close()
	first = nil
	kept := get() // from the same goroutine: the same stripe, the same slab
	deadline := time.After(10 * time.Second)
	for {
		runtime.GC()
		select {
		case <-gone:
			kept.Body.Close()
			return
		case <-deadline:
			t.Fatal("the first response's body is still alive while the second is held")
		case <-time.After(time.Millisecond):
		}
	}
}

// A released body lets go of its permit: a caller keeping the response
// must not keep the permit's slab, 17 permits long, alive with it.
func TestTransportBodyLetsGoOfItsPermit(t *testing.T) {
	client := &http.Client{Transport: &Transport{Base: apitest.Instant{}, Limits: Limits{Concurrency: 4}}}
	resp, err := client.Get("http://api.example/v1/x")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if hb, ok := resp.Body.(*heldBody); !ok || hb.permit != nil {
		t.Errorf("body %T, permit still held: %v", resp.Body, ok)
	}
}
