package proxy_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/proxy"
)

// The 429s the proxy sends in a burst tell their clients to come back
// at different moments, one admission interval apart, so that the SDKs'
// retries arrive about as fast as the limits admit them instead of in one
// wave that is mostly refused again.
func TestRefusalsInABurstAreSpreadOut(t *testing.T) {
	up := startHeld(t)
	close(up.release)
	p := startProxy(t, proxy.Route{
		Upstream: mustURL(t, up.URL),
		Limits:   sluice.Limits{Rate: sluice.PerSecond(10)},
		MaxWait:  200 * time.Millisecond,
	})
	const n = 60
	var mu sync.Mutex
	var ms []int
	secs := map[string]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			r := send(context.Background(), "POST", p.URL()+"/v1/x", "", nil, "{}")
			if r.status != http.StatusTooManyRequests {
				return
			}
			v, err := strconv.Atoi(r.header.Get("Retry-After-Ms"))
			if err != nil {
				t.Errorf("retry-after-ms %q: %v", r.header.Get("Retry-After-Ms"), err)
			}
			mu.Lock()
			ms = append(ms, v)
			secs[r.header.Get("Retry-After")]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(ms) < n/2 {
		t.Fatalf("%d refused of %d, want most", len(ms), n)
	}
	slices.Sort(ms)
	// 10/s: consecutive promises 100 ms apart (less the time between
	// the refusals, a few ms at most), but where the limits' own
	// estimate for a refusal was later than the tail.
	close := 0
	for i := 1; i < len(ms); i++ {
		if ms[i]-ms[i-1] < 50 {
			close++
		}
	}
	if close > len(ms)/10 {
		t.Errorf("%d of %d promises within 50 ms of the one before, want about 100 ms apart: %v", close, len(ms), ms)
	}
	if want := len(ms) / 10; len(secs) < want {
		t.Errorf("Retry-After took %d values over %d refusals (%v), want at least %d", len(secs), len(ms), secs, want)
	}
}
