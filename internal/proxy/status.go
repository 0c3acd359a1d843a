package proxy

import (
	_ "embed"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The proxy's own pages, beside /healthz:
//
//	/metrics               Prometheus metrics (metrics.go)
//	/__sluice/             the live status page: per route, charts of the
//	                       last minutes, from stats.json polled every second
//	/__sluice/stats.json   the page's data: totals (the counters /metrics
//	                       shows) and a ring of per-second samples
//	/                      redirects to /__sluice/, unless a route serves "/"
//
// Routes forward every other path, so the page lives under a prefix no
// API uses. GET / still reaches it from a browser when a route serves
// every path with an LLM preset: those APIs have no page at /, so a
// browser's navigation there (Accept: text/html) is the operator's, and
// it is redirected; a generic route serving "/" keeps its own /.
//
// The page has no external assets (inline CSS, JS and SVG; a CSP header
// forbids any other source) so that it works offline. Nothing on it or in
// the metrics can hold an API key: they show only counters, the routes'
// prefixes and the upstreams' hosts.

// The paths the proxy keeps for itself.
const (
	metricsPath  = "/metrics"
	statusPrefix = "/__sluice/"
)

// History kept for the page: ringLen samples, one a second.
const (
	ringLen       = 300
	sampleEvery   = time.Second
	summaryPeriod = time.Minute
)

//go:embed status.html
var statusPage []byte

// sample is one second of a route.
type sample struct {
	admitted, refused, throttled int64 // during the second
	queue, inFlight, ceiling     int64 // at its end
}

// ring is a route's last ringLen samples, and the counters at the last.
type ring struct {
	buf                          [ringLen]sample
	n, next                      int
	admitted, refused, throttled int64
}

func (r *ring) push(s sample) {
	r.buf[r.next] = s
	r.next = (r.next + 1) % ringLen
	r.n = min(r.n+1, ringLen)
}

// each calls f with the samples, oldest first.
func (r *ring) each(f func(sample)) {
	for i := range r.n {
		f(r.buf[(r.next-r.n+i+ringLen)%ringLen])
	}
}

// observer serves the proxy's own pages and owns the goroutine that
// samples the routes every second and logs a summary every minute.
type observer struct {
	routes  []*route
	root    *route // the route that serves "/", nil for none
	log     logger
	metrics http.Handler
	mu      sync.Mutex // guards the routes' rings
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// newObserver builds the observer of routes and fits them with their
// counters (newRegistry); root is the route that serves "/", if any.
func newObserver(routes []*route, root *route, log logger) *observer {
	_, h := newRegistry(routes)
	return &observer{routes: routes, root: root, log: log, metrics: h,
		stop: make(chan struct{}), done: make(chan struct{})}
}

// start starts the goroutine that close stops.
func (o *observer) start() { go o.run(sampleEvery, summaryPeriod) }

// close stops the goroutine and waits for it; later calls do nothing.
func (o *observer) close() {
	o.once.Do(func() {
		close(o.stop)
		<-o.done
	})
}

func (o *observer) run(every, summaryEvery time.Duration) {
	defer close(o.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	summary := time.NewTicker(summaryEvery)
	defer summary.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-tick.C:
			o.sample()
		case <-summary.C:
			o.summarize()
		}
	}
}

// sample adds a second to each route's ring.
func (o *observer) sample() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range o.routes {
		rg, st := &r.obs.ring, r.stats()
		admitted, refused, throttled := r.obs.admitted.Load(), r.obs.refused(), r.obs.throttled.Load()
		rg.push(sample{
			admitted: admitted - rg.admitted, refused: refused - rg.refused, throttled: throttled - rg.throttled,
			queue: st.Queued, inFlight: st.Gates.InFlight, ceiling: int64(st.Gates.Ceiling),
		})
		rg.admitted, rg.refused, rg.throttled = admitted, refused, throttled
	}
}

// summaryMark is a route's counters at the last summary.
type summaryMark struct {
	admitted, refused, throttled int64
	waits                        []uint64 // cumulative count of each wait bucket
}

// summarize logs, at info level, a line per route on the last period.
func (o *observer) summarize() {
	if !o.log.enabled(slog.LevelInfo) {
		return
	}
	for _, r := range o.routes {
		m := &r.obs.summary
		admitted, refused, throttled := r.obs.admitted.Load(), r.obs.refused(), r.obs.throttled.Load()
		waits := bucketCounts(r.obs.wait)
		longest := time.Duration(r.obs.longestWait.Swap(0))
		p99 := min(quantile(0.99, waitBuckets, waits, m.waits), longest)
		o.log.l.Info("summary", "route", r.obs.label,
			"admitted", admitted-m.admitted, "refused", refused-m.refused, "upstream_429", throttled-m.throttled,
			"p99_wait", p99, "max_wait", longest, "queue", r.queued.Load())
		*m = summaryMark{admitted: admitted, refused: refused, throttled: throttled, waits: waits}
	}
}

// bucketCounts returns h's cumulative bucket counts, +Inf's last.
func bucketCounts(h prometheus.Histogram) []uint64 {
	var m dto.Metric
	if err := h.Write(&m); err != nil || m.Histogram == nil {
		return nil
	}
	out := make([]uint64, 0, len(m.Histogram.Bucket)+1)
	for _, b := range m.Histogram.Bucket {
		out = append(out, b.GetCumulativeCount())
	}
	return append(out, m.Histogram.GetSampleCount())
}

// quantile estimates the q quantile of the observations between two
// snapshots of cumulative bucket counts (bounds' and then +Inf's), the
// way Prometheus' histogram_quantile does: linear within the bucket. It
// is 0 when nothing was observed; in the +Inf bucket, the largest bound.
func quantile(q float64, bounds []float64, now, before []uint64) time.Duration {
	if len(now) != len(bounds)+1 {
		return 0
	}
	delta := func(i int) float64 {
		if len(before) == len(now) {
			return float64(now[i] - before[i])
		}
		return float64(now[i])
	}
	total := delta(len(bounds))
	if total == 0 {
		return 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, upper := range bounds {
		c := delta(i)
		if c >= rank {
			frac := (rank - below) / (c - below)
			return seconds(lower + (upper-lower)*frac)
		}
		lower, below = upper, c
	}
	return seconds(bounds[len(bounds)-1])
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// owns reports whether req is for one of the proxy's own pages rather
// than a route's.
func (o *observer) owns(req *http.Request) bool {
	p := req.URL.Path
	switch {
	case p == metricsPath || p == strings.TrimSuffix(statusPrefix, "/") || strings.HasPrefix(p, statusPrefix):
		return true
	case p == "/" && (req.Method == http.MethodGet || req.Method == http.MethodHead):
		return o.root == nil || (o.root.Preset.llm() && strings.Contains(req.Header.Get("Accept"), "text/html"))
	}
	return false
}

// ServeHTTP serves the pages owns claims.
func (o *observer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "sluice proxy: method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch req.URL.Path {
	case metricsPath:
		o.metrics.ServeHTTP(w, req)
	case "/", strings.TrimSuffix(statusPrefix, "/"):
		http.Redirect(w, req, statusPrefix, http.StatusFound)
	case statusPrefix:
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		// Nothing from anywhere else: the page works offline, and could
		// not leak what it shows if it were ever made to try.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
		w.Write(statusPage)
	case statusPrefix + "stats.json":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(o.status())
	default:
		http.Error(w, "sluice proxy: no such page", http.StatusNotFound)
	}
}

// statusJSON is stats.json.
type statusJSON struct {
	IntervalSeconds float64     `json:"interval_seconds"`
	Routes          []routeJSON `json:"routes"`
}

type routeJSON struct {
	Route    string `json:"route"`
	Preset   string `json:"preset"`
	Upstream string `json:"upstream"` // the host alone: a URL could hold credentials
	// Totals are the counters /metrics shows, read at once: admitted,
	// refused (by the proxy, 429), throttled (upstream 429s and 529s),
	// retries, tokens_in, tokens_out, and requests_OUTCOME for each
	// outcome.
	Totals map[string]int64 `json:"totals"`
	Now    struct {
		Queue         int64   `json:"queue"`
		QueueCapacity int64   `json:"queue_capacity"`
		InFlight      int64   `json:"in_flight"`
		Ceiling       int64   `json:"ceiling"`
		Learned       float64 `json:"learned_per_second"`
	} `json:"now"`
	// Series are the last samples, oldest first, one a second.
	Series struct {
		Admitted  []int64 `json:"admitted"`
		Refused   []int64 `json:"refused"`
		Throttled []int64 `json:"throttled"`
		Queue     []int64 `json:"queue"`
		InFlight  []int64 `json:"in_flight"`
		Ceiling   []int64 `json:"ceiling"`
	} `json:"series"`
}

func (o *observer) status() statusJSON {
	out := statusJSON{IntervalSeconds: sampleEvery.Seconds(), Routes: make([]routeJSON, 0, len(o.routes))}
	for _, r := range o.routes {
		ob := r.obs
		j := routeJSON{Route: ob.label, Preset: string(r.Preset), Upstream: r.Upstream.Host, Totals: map[string]int64{
			"admitted": ob.admitted.Load(), "refused": ob.refused(), "throttled": ob.throttled.Load(),
			"retries": ob.retries.Load(), "tokens_in": ob.tokensIn.Load(), "tokens_out": ob.tokensOut.Load(),
		}}
		for i := range numOutcomes {
			j.Totals["requests_"+outcomeNames[i]] = ob.requests[i].Load()
		}
		st := r.stats()
		j.Now.Queue, j.Now.QueueCapacity, j.Now.InFlight = st.Queued, r.queueSize(), st.Gates.InFlight
		j.Now.Ceiling, j.Now.Learned = int64(st.Gates.Ceiling), st.Gates.Learned.PerSec()
		s := &j.Series
		o.mu.Lock()
		ob.ring.each(func(x sample) {
			s.Admitted, s.Refused, s.Throttled = append(s.Admitted, x.admitted), append(s.Refused, x.refused), append(s.Throttled, x.throttled)
			s.Queue, s.InFlight, s.Ceiling = append(s.Queue, x.queue), append(s.InFlight, x.inFlight), append(s.Ceiling, x.ceiling)
		})
		o.mu.Unlock()
		out.Routes = append(out.Routes, j)
	}
	return out
}
