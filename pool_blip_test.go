package sluice

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

// A Pool whose items call a Transport (the README's batch shape) lost the
// whole batch to a blip: the Transport's retry budget failed fast as a
// live caller's should, handed back the 429, and the Pool did not retry
// what the Transport had retried (outside review: 100 of 100 items
// failed within a second of a 1-3 s run of 429s and 500s). A Transport
// called with a Pool item's context now waits for budget, as the Pool
// itself does: a flaky API never costs items.
func TestPoolThroughATransportOutlastsABlip(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusInternalServerError} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				begin := time.Now()
				var hits atomic.Int64
				api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					hits.Add(1)
					time.Sleep(10 * time.Millisecond)
					if time.Since(begin) < 2*time.Second {
						w.WriteHeader(status) // no Retry-After, no headers
						return
					}
					io.WriteString(w, "ok")
				})
				tr := &Transport{Base: apitest.RoundTripper{Handler: api}}
				pool := &Pool[int, int]{Workers: 8}
				get := transportGet(tr)
				items := make([]int, 100)
				failed := 0
				for r := range pool.Run(t.Context(), slices.Values(items), get) {
					if r.Err != nil {
						failed++
						if failed == 1 {
							t.Errorf("item %d: %v", r.Index, r.Err)
						}
					}
				}
				if failed > 0 {
					t.Errorf("%d of 100 items failed after a 2s blip of %d; want none (the API saw %d requests)", failed, status, hits.Load())
				}
			})
		})
	}
}
