package sluice

import (
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/internal/apitest"
)

// A response body closed while another goroutine reads it to its end
// gives the slot back exactly once (run with -race). More calls than a
// slab holds, from several goroutines, so that bodies come from several
// slabs and stripes.
func TestTransportBodyCloseRacingEOFReleasesOnce(t *testing.T) {
	tr := &Transport{Base: apitest.Instant{}, Limits: Limits{Concurrency: 4, FixedConcurrency: true}}
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 3 * heldPerSlab {
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
	if want := int64(4 * 3 * heldPerSlab); s.InFlight != 0 || s.Completed != want {
		t.Errorf("stats %+v; want nothing in flight and %d completed", s, want)
	}
}
