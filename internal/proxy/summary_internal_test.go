package proxy

import (
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

// The summary line comes every minute at info level, with the minute's
// counts (not the totals) and its p99 wait; the sampler fills the page's
// ring once a second; Close stops the goroutine (synctest.Test fails on a
// goroutine left running).
func TestSummaryEveryMinuteCountsTheMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf apitest.Buffer
		log := logger{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
		r := newRoute(Route{Prefix: "/v1", Upstream: &url.URL{Scheme: "http", Host: "127.0.0.1:9"}}, log)
		o := newObserver([]*route{r}, nil, log)
		o.start()
		defer o.close()

		minute := func(admitted, refused, throttled int, waits ...time.Duration) string {
			r.obs.admitted.Add(int64(admitted))
			r.obs.requests[outcomeMaxWait].Add(int64(refused))
			r.obs.throttled.Add(int64(throttled))
			for _, w := range waits {
				r.obs.observeWait(w)
			}
			buf.Reset()
			time.Sleep(time.Minute)
			synctest.Wait()
			return strings.TrimSpace(buf.String())
		}
		many := func(n int, d time.Duration) []time.Duration {
			out := make([]time.Duration, n)
			for i := range out {
				out[i] = d
			}
			return out
		}
		for _, c := range []struct {
			name                         string
			admitted, refused, throttled int
			waits                        []time.Duration
			want                         string
		}{
			{"first", 5, 2, 3, many(100, 3*time.Millisecond),
				"route=/v1 admitted=5 refused=2 upstream_429=3 p99_wait=3ms max_wait=3ms queue=0"},
			{"second counts only its own", 1, 0, 0, append(many(99, time.Millisecond), 20*time.Second),
				"route=/v1 admitted=1 refused=0 upstream_429=0 p99_wait=1ms max_wait=20s queue=0"},
			// Interpolated in (10s, 30s], the p99 was 25s; no request
			// waited longer than 10.7s.
			{"a wide bucket", 100, 0, 0, append(many(96, time.Millisecond), many(4, 10700*time.Millisecond)...),
				"route=/v1 admitted=100 refused=0 upstream_429=0 p99_wait=10.7s max_wait=10.7s queue=0"},
			{"idle", 0, 0, 0, nil,
				"route=/v1 admitted=0 refused=0 upstream_429=0 p99_wait=0s max_wait=0s queue=0"},
		} {
			got := minute(c.admitted, c.refused, c.throttled, c.waits...)
			if !strings.Contains(got, "level=INFO msg=summary "+c.want) || strings.Count(got, "\n") != 0 {
				t.Errorf("%s minute: log\n%s\nwant one line with %q", c.name, got, c.want)
			}
		}
		o.mu.Lock()
		n := r.obs.ring.n
		o.mu.Unlock()
		if n != 240 {
			t.Errorf("ring holds %d samples after 4 minutes, want 240", n)
		}
	})
}

// The ring keeps the last ringLen samples, oldest first.
func TestRingKeepsTheLastSamplesInOrder(t *testing.T) {
	var r ring
	for i := range ringLen + 5 {
		r.push(sample{admitted: int64(i)})
	}
	var got []int64
	r.each(func(s sample) { got = append(got, s.admitted) })
	if len(got) != ringLen || got[0] != 5 || got[ringLen-1] != ringLen+4 {
		t.Errorf("ring: %d samples from %d to %d, want %d from 5 to %d", len(got), got[0], got[len(got)-1], ringLen, ringLen+4)
	}
}

func TestQuantile(t *testing.T) {
	bounds := []float64{0.01, 0.1, 1}
	for _, c := range []struct {
		name        string
		now, before []uint64
		want        time.Duration
	}{
		{"nothing observed", []uint64{0, 0, 0, 0}, nil, 0},
		{"all in the first bucket", []uint64{100, 100, 100, 100}, nil, 9900 * time.Microsecond},
		{"interpolated in the second", []uint64{50, 100, 100, 100}, nil, 98200 * time.Microsecond},
		{"in +Inf: the largest bound", []uint64{0, 0, 0, 10}, nil, time.Second},
		{"since before", []uint64{100, 200, 200, 200}, []uint64{100, 100, 100, 100}, 99100 * time.Microsecond},
		{"mismatched snapshot", []uint64{1, 1}, nil, 0},
	} {
		if got := quantile(0.99, bounds, c.now, c.before); got != c.want {
			t.Errorf("%s: quantile = %v, want %v", c.name, got, c.want)
		}
	}
}
