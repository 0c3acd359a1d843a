package proxy

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluicehq/sluice"
)

// What the proxy tells Prometheus at /metrics. Every series is labelled by
// route (its configured prefix) and, for requests, by outcome, both from
// fixed sets: never a key, a path or a model, so that no client can grow
// the number of series.
//
// The counters are plain atomics read at scrape by a Collector, rather
// than prometheus.Counters: the status page reads the same atomics, so
// that it and /metrics always agree, and a request's path pays one atomic
// add per counter, with no label lookup. The histograms are the client
// library's own.

// outcome is how a request ended, as the proxy saw it.
type outcome uint8

// The outcomes; outcomeNames are their label values.
const (
	outcome2xx outcome = iota // the upstream's response, passed on
	outcome3xx
	outcome4xx        // (but 429, which is outcomeThrottled)
	outcome5xx        // (but 529, which is outcomeThrottled)
	outcomeThrottled  // an upstream 429 or 529 passed on, retries spent
	outcomeQueueFull  // refused at once: the queue was full
	outcomeMaxWait    // refused: the wait was or would be over the max wait
	outcomeQuota      // the route's quota is exhausted (insufficient_quota)
	outcomeClientGone // the client went away before its response ended
	outcomeError      // the proxy answered an error: no upstream response, or no token estimate
	outcomeTooLarge   // refused at once: the body was over the route's max body, or its estimated tokens over a token budget (tokenfit.go)
	outcomeDeadline   // the client's deadline (X-Stainless-Timeout...) passed before the upstream answered
	outcomeStopping   // refused: still queued when the proxy's shutdown grace ran out (shutdown.go)
	numOutcomes
)

var outcomeNames = [numOutcomes]string{
	"2xx", "3xx", "4xx", "5xx", "upstream_throttled",
	"refused_queue_full", "refused_max_wait", "quota_exhausted", "client_gone", "error",
	"refused_too_large", "deadline_exceeded", "refused_stopping",
}

// routeObs is what the proxy counts of one route. Its counters are
// cumulative and safe for concurrent use.
type routeObs struct {
	label     string // the route label: its prefix, "/" for every path
	requests  [numOutcomes]atomic.Int64
	admitted  atomic.Int64 // requests that passed the gate (once each, retries aside)
	retries   atomic.Int64 // attempts after a request's first
	throttled atomic.Int64 // upstream 429 and 529 responses, every attempt's
	tokensIn  atomic.Int64
	tokensOut atomic.Int64
	wait      prometheus.Histogram // admitted requests' wait for admission
	latency   prometheus.Histogram // every attempt's time to the upstream's headers
	// longestWait is the longest wait since the last summary, in
	// nanoseconds: the histogram's quantile is interpolated within a
	// bucket, and (10s, 30s] put a p99 of 27.5s in the log when no
	// request had waited 11s.
	longestWait atomic.Int64

	// Kept by the observer's goroutine alone; see status.go.
	ring    ring
	summary summaryMark
}

// observeWait records an admitted request's wait for admission.
func (o *routeObs) observeWait(d time.Duration) {
	o.wait.Observe(d.Seconds())
	for {
		longest := o.longestWait.Load()
		if int64(d) <= longest || o.longestWait.CompareAndSwap(longest, int64(d)) {
			return
		}
	}
}

// refused is the number of requests the proxy itself refused with 429.
func (o *routeObs) refused() int64 {
	return o.requests[outcomeQueueFull].Load() + o.requests[outcomeMaxWait].Load()
}

// routeLabel is the value of the route label: the configured prefix, the
// one part of a path that may be a label, since the operator chose it.
func routeLabel(r *Route) string {
	if r.Prefix == "" {
		return "/"
	}
	return r.Prefix
}

// Buckets, in seconds. A wait runs up to the max wait (30 s by default);
// an LLM's response headers can take a minute.
var (
	waitBuckets    = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("sluice_proxy_"+name, help, append([]string{"route"}, labels...), nil)
}

var (
	descRequests  = desc("requests_total", "Requests by how they ended: the upstream's status class, upstream_throttled (a 429 or 529 passed on), or the proxy's own answer (refused_queue_full, refused_max_wait, refused_too_large, quota_exhausted, deadline_exceeded, refused_stopping, client_gone, error).", "outcome")
	descAdmitted  = desc("admitted_total", "Requests admitted by the route's limits.")
	descRetries   = desc("retries_total", "Attempts upstream after a request's first.")
	descThrottled = desc("upstream_throttled_total", "Upstream responses 429 or 529, every attempt's.")
	descTokens    = desc("tokens_total", "Tokens the upstream reported using (LLM presets), by direction.", "direction")
	descQueue     = desc("queue_depth", "Requests waiting for admission now.")
	descQueueCap  = desc("queue_capacity", "Most requests that may wait for admission.")
	descInFlight  = desc("in_flight", "Requests admitted upstream and not finished.")
	descCeiling   = desc("concurrency_ceiling", "The concurrency limit in force, adaptive or fixed: for a model the route gives limits of its own, its gate's; for model=\"other\", summed over the route's other gates (one per model and API key).", "model")
	descLearned   = desc("learned_rate_per_second", "The request rate learned from the upstream's rate-limit headers or its 429s (with Redis, also one another process learned), 0 for none: for a model the route gives limits of its own, its gate's; for model=\"other\", summed over the route's other gates.", "model")
	descPauses    = desc("pauses_total", "Times a gate paused, or extended a pause, on the upstream's word (Retry-After).")

	// The body budget is the server's, all routes together (budget.go):
	// its series have no route label.
	descBodyHeld    = prometheus.NewDesc("sluice_proxy_body_held_bytes", "Bytes of request bodies held now (read for requests waiting for admission or in flight), all routes together.", nil, nil)
	descBodyBudget  = prometheus.NewDesc("sluice_proxy_body_budget_bytes", "Most bytes of request bodies held at once (--body-budget), all routes together.", nil, nil)
	descBodyWaiting = prometheus.NewDesc("sluice_proxy_body_waiting", "Requests waiting, their bodies unread, for room in the body budget.", nil, nil)
)

// collector reads the routes' counters and gates at scrape.
type collector struct{ routes []*route }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descAdmitted, descRetries, descThrottled, descTokens,
		descQueue, descQueueCap, descInFlight, descCeiling, descLearned, descPauses,
		descBodyHeld, descBodyBudget, descBodyWaiting} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, r := range c.routes {
		o, l := r.obs, r.obs.label
		for i := range numOutcomes {
			counter(descRequests, o.requests[i].Load(), l, outcomeNames[i])
		}
		counter(descAdmitted, o.admitted.Load(), l)
		counter(descRetries, o.retries.Load(), l)
		counter(descThrottled, o.throttled.Load(), l)
		counter(descTokens, o.tokensIn.Load(), l, "input")
		counter(descTokens, o.tokensOut.Load(), l, "output")
		st := r.stats()
		gauge(descQueue, float64(st.Queued), l)
		gauge(descQueueCap, float64(r.queueSize()), l)
		gauge(descInFlight, float64(st.Gates.InFlight), l)
		ceiling, learned := float64(st.Gates.Ceiling), st.Gates.Learned.PerSec()
		for _, m := range r.modelGates() {
			g := m.gate.Stats()
			gauge(descCeiling, float64(g.Ceiling), l, m.name)
			gauge(descLearned, g.Learned.PerSec(), l, m.name)
			ceiling -= float64(g.Ceiling)
			learned -= g.Learned.PerSec()
		}
		// The sum and each gate are read at slightly different times.
		gauge(descCeiling, max(ceiling, 0), l, "other")
		gauge(descLearned, max(learned, 0), l, "other")
		counter(descPauses, st.Gates.Pauses, l)
	}
	if len(c.routes) > 0 && c.routes[0].budget != nil { // every route has the server's
		b := c.routes[0].budget
		gauge(descBodyHeld, float64(b.held.Load()))
		gauge(descBodyBudget, float64(b.size))
		gauge(descBodyWaiting, float64(b.waiting.Load()))
	}
}

// namedGate is the gate of a model the route gives limits of its own.
type namedGate struct {
	name string
	gate *sluice.Gate
}

// modelGates returns the gates of the models the route gives limits of
// their own, by name: the ceiling and learned rate are each gate's, and a
// sum over models of different limits would mean nothing. A route with
// per_key has a gate per key and model, which no label may name: its
// gates are all "other". A model with no request yet gets its gate here,
// as its first request would.
func (r *route) modelGates() []namedGate {
	if r.PerKey || len(r.Models) == 0 {
		return nil
	}
	names := make([]string, 0, len(r.Models))
	for name := range r.Models {
		names = append(names, name)
	}
	slices.Sort(names)
	out := make([]namedGate, len(names))
	for i, name := range names {
		// The key the Transport gives the model's requests (route.key).
		out[i] = namedGate{name, r.tr.Gate(r.Upstream.Host + "/" + name)}
	}
	return out
}

// newRegistry builds a Server's own registry (not the global one: tests
// run several servers in one process) and fits each route with what
// counts it: its routeObs, a base transport that times attempts, and, for
// the LLM presets, a usage reader that counts tokens. It must run before
// the routes serve: the Transport reads Base and Usage on first use.
func newRegistry(routes []*route) (*prometheus.Registry, http.Handler) {
	reg := prometheus.NewRegistry()
	wait := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sluice_proxy_admission_wait_seconds",
		Help:    "How long admitted requests waited for admission.",
		Buckets: waitBuckets,
	}, []string{"route"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sluice_proxy_upstream_latency_seconds",
		Help:    "How long each attempt waited for the upstream's response headers.",
		Buckets: latencyBuckets,
	}, []string{"route"})
	reg.MustRegister(wait, latency, collector{routes},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range routes {
		label := routeLabel(&r.Route)
		o := &routeObs{label: label}
		o.wait = wait.WithLabelValues(label).(prometheus.Histogram)
		o.latency = latency.WithLabelValues(label).(prometheus.Histogram)
		r.obs = o
		r.tr.Base = timedBase{r.tr.Base, o}
		if r.Preset.llm() && r.tr.Usage == nil {
			r.tr.Usage = func(resp *http.Response, head, tail []byte) *sluice.Usage {
				u := sluice.ScanUsage(resp, head, tail)
				if u != nil {
					o.tokensIn.Add(int64(u.InputTokens))
					o.tokensOut.Add(int64(u.OutputTokens))
				}
				return u
			}
		}
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return reg, h
}

// timedBase times each attempt to its response headers and counts the
// upstream's 429s and 529s.
type timedBase struct {
	http.RoundTripper
	obs *routeObs
}

func (b timedBase) RoundTrip(req *http.Request) (*http.Response, error) {
	begin := time.Now()
	resp, err := b.RoundTripper.RoundTrip(req)
	b.obs.latency.Observe(time.Since(begin).Seconds())
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == 529) {
		b.obs.throttled.Add(1)
	}
	return resp, err
}

// CloseIdleConnections passes on to the base, for Transport's.
func (b timedBase) CloseIdleConnections() {
	if c, ok := b.RoundTripper.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// record counts a request that has ended: a is its admission (nil when
// the queue was full or the body too large: refused says which), ctx the
// context it was served with, info what the Transport said of its round
// trip, status what its client got; aborted says its response was cut
// short after it began (the ReverseProxy's http.ErrAbortHandler).
func (o *routeObs) record(ctx context.Context, req *http.Request, a *admission, refused outcome, info *sluice.RoundTripInfo, status int, aborted bool) {
	if info.Attempts > 1 {
		o.retries.Add(int64(info.Attempts - 1))
	}
	var out outcome
	var we *sluice.WaitError
	isAdmitted := a != nil && a.state.Load() == admitted
	if isAdmitted {
		o.admitted.Add(1)
		o.observeWait(time.Duration(a.wait.Load()))
	}
	switch {
	case a == nil:
		out = refused
	case a.phase.Load() == overdue && status == http.StatusGatewayTimeout:
		out = outcomeDeadline
	case isAdmitted && aborted && req.Context().Err() != nil:
		// The client left mid-response: the copy read the cancelled
		// upstream body.
		out = outcomeClientGone
	case isAdmitted && aborted:
		// The upstream broke its response after the status was passed
		// on: the status says 2xx, the client got a truncated body.
		out = outcomeError
	case isAdmitted:
		out = statusOutcome(status, info)
	case errors.As(info.Err, &we) || context.Cause(ctx) == errMaxWait:
		out = outcomeMaxWait
	case errors.Is(info.Err, errShuttingDown):
		out = outcomeStopping
	case errors.Is(info.Err, sluice.ErrQuotaExhausted):
		out = outcomeQuota
	case errors.Is(info.Err, sluice.ErrTooLarge):
		out = outcomeTooLarge
	case req.Context().Err() != nil:
		out = outcomeClientGone
	default:
		out = outcomeError
	}
	o.requests[out].Add(1)
}

// statusOutcome is the outcome of an admitted request whose client got
// status; info is what the Transport said of its round trip (Err nil
// after a success).
func statusOutcome(status int, info *sluice.RoundTripInfo) outcome {
	var se *sluice.StatusError
	err := info.Err
	switch {
	case status == 499:
		return outcomeClientGone
	case (status == http.StatusTooManyRequests || status == 529) && (info.Class == sluice.ClassThrottled || info.Class == sluice.ClassOverloaded):
		// The upstream's 429 or 529 passed on, whatever ended the
		// retries: one that could not be admitted before the client's
		// deadline was counted an error (an outside review).
		return outcomeThrottled
	case err != nil && !errors.As(err, &se):
		// No upstream response: the status is the proxy's own (502).
		return outcomeError
	case status == http.StatusTooManyRequests || status == 529:
		return outcomeThrottled
	case status < 300:
		return outcome2xx
	case status < 400:
		return outcome3xx
	case status < 500:
		return outcome4xx
	}
	return outcome5xx
}
