package mock

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Latency is a distribution of response times: none, a fixed time, a
// uniform spread around a center, or a log-normal fitted to two quantiles
// (which has the long tail real APIs have). The zero value is no latency.
// Build one with ParseLatency or FixedLatency. A Latency is a value; it is
// safe to copy and compare.
type Latency struct {
	kind   latencyKind
	center time.Duration // fixed and uniform
	spread time.Duration // uniform: center±spread
	// log-normal: the two quantiles given, as percentages and times, and
	// the parameters of the underlying normal, in log-seconds.
	p1, p2    float64
	q1, q2    time.Duration
	mu, sigma float64
}

type latencyKind uint8

const (
	noLatency latencyKind = iota
	fixedLatency
	uniformLatency
	logNormalLatency
)

// maxLatency bounds every latency given and every sample drawn: a mock
// slower than an hour is a mistake, and the bound keeps the log-normal's
// tail inside a Duration.
const maxLatency = time.Hour

// FixedLatency returns a Latency of exactly d (none when d <= 0; at most an
// hour).
func FixedLatency(d time.Duration) Latency {
	if d <= 0 {
		return Latency{}
	}
	return Latency{kind: fixedLatency, center: min(d, maxLatency)}
}

// ParseLatency reads a latency distribution:
//
//	""  or "0"            no latency
//	"200ms"               always 200ms
//	"200ms±100ms"         uniform between 100ms and 300ms ("+-" works too)
//	"p50=200ms,p99=2s"    log-normal with that median and 99th percentile
//
// The quantiles may be any two percentiles (p90, p99.9, ...) in either
// order; the higher one must be the longer time. Times are Go durations of
// at most an hour.
func ParseLatency(s string) (Latency, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return Latency{}, nil
	}
	if strings.Contains(s, "=") {
		return parseQuantiles(s)
	}
	for _, sep := range []string{"±", "+-"} {
		center, spread, ok := strings.Cut(s, sep)
		if !ok {
			continue
		}
		c, err := parseLatencyDuration(s, center)
		if err != nil {
			return Latency{}, err
		}
		d, err := parseLatencyDuration(s, spread)
		if err != nil {
			return Latency{}, err
		}
		if d > c {
			return Latency{}, fmt.Errorf("mock: latency %q: spread %v is more than the center %v", s, d, c)
		}
		if d == 0 {
			return FixedLatency(c), nil
		}
		return Latency{kind: uniformLatency, center: c, spread: d}, nil
	}
	d, err := parseLatencyDuration(s, s)
	if err != nil {
		return Latency{}, err
	}
	return FixedLatency(d), nil
}

// parseLatencyDuration reads one duration of the latency s.
func parseLatencyDuration(s, part string) (time.Duration, error) {
	part = strings.TrimSpace(part)
	d, err := time.ParseDuration(part)
	if err != nil {
		return 0, fmt.Errorf("mock: latency %q: %q is not a duration such as 200ms", s, part)
	}
	if d < 0 || d > maxLatency {
		return 0, fmt.Errorf("mock: latency %q: %q is not between 0 and %v", s, part, maxLatency)
	}
	return d, nil
}

// parseQuantiles reads "pA=DA,pB=DB" and fits a log-normal through both.
func parseQuantiles(s string) (Latency, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 2 {
		return Latency{}, fmt.Errorf("mock: latency %q: want two quantiles such as p50=200ms,p99=2s", s)
	}
	var ps [2]float64
	var qs [2]time.Duration
	for i, part := range parts {
		name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		name = strings.TrimSpace(name)
		pct, ok := strings.CutPrefix(name, "p")
		p, err := strconv.ParseFloat(pct, 64)
		if !ok || err != nil || !(p > 0 && p < 100) {
			return Latency{}, fmt.Errorf("mock: latency %q: %q is not a percentile between p0 and p100, such as p99", s, name)
		}
		d, err := parseLatencyDuration(s, value)
		if err != nil {
			return Latency{}, err
		}
		if d <= 0 {
			return Latency{}, fmt.Errorf("mock: latency %q: %s must be longer than 0", s, name)
		}
		ps[i], qs[i] = p, d
	}
	if ps[0] > ps[1] {
		ps[0], ps[1] = ps[1], ps[0]
		qs[0], qs[1] = qs[1], qs[0]
	}
	if ps[0] == ps[1] {
		return Latency{}, fmt.Errorf("mock: latency %q: the two quantiles are the same percentile", s)
	}
	if qs[1] <= qs[0] {
		return Latency{}, fmt.Errorf("mock: latency %q: p%s must be longer than p%s", s, fmtPercent(ps[1]), fmtPercent(ps[0]))
	}
	z1, z2 := normalQuantile(ps[0]/100), normalQuantile(ps[1]/100)
	sigma := (math.Log(qs[1].Seconds()) - math.Log(qs[0].Seconds())) / (z2 - z1)
	mu := math.Log(qs[0].Seconds()) - z1*sigma
	if math.IsNaN(sigma) || math.IsInf(sigma, 0) || sigma <= 0 || math.IsNaN(mu) || math.IsInf(mu, 0) {
		return Latency{}, fmt.Errorf("mock: latency %q: the quantiles are too close to fit", s)
	}
	return Latency{kind: logNormalLatency, p1: ps[0], p2: ps[1], q1: qs[0], q2: qs[1], mu: mu, sigma: sigma}, nil
}

// normalQuantile returns z such that P(Z <= z) = p for a standard normal Z.
func normalQuantile(p float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*p-1)
}

func fmtPercent(p float64) string { return strconv.FormatFloat(p, 'g', -1, 64) }

// String returns l in the form ParseLatency reads; no latency is "0".
func (l Latency) String() string {
	switch l.kind {
	case fixedLatency:
		return l.center.String()
	case uniformLatency:
		return l.center.String() + "±" + l.spread.String()
	case logNormalLatency:
		return "p" + fmtPercent(l.p1) + "=" + l.q1.String() + ",p" + fmtPercent(l.p2) + "=" + l.q2.String()
	}
	return "0"
}

// Sample draws one latency using r, or the math/rand/v2 global source when
// r is nil. Samples are never negative nor longer than an hour.
func (l Latency) Sample(r *rand.Rand) time.Duration {
	float, norm := rand.Float64, rand.NormFloat64
	if r != nil {
		float, norm = r.Float64, r.NormFloat64
	}
	switch l.kind {
	case fixedLatency:
		return l.center
	case uniformLatency:
		return clampLatency(float64(l.center-l.spread) + float()*float64(2*l.spread))
	case logNormalLatency:
		return clampLatency(math.Exp(l.mu+l.sigma*norm()) * 1e9)
	}
	return 0
}

// Mean returns the distribution's mean, for computing physical minimums
// such as N × latency / concurrency. For a log-normal it is exp(μ+σ²/2),
// capped at an hour like the samples.
func (l Latency) Mean() time.Duration {
	switch l.kind {
	case fixedLatency, uniformLatency:
		return l.center
	case logNormalLatency:
		return clampLatency(math.Exp(l.mu+l.sigma*l.sigma/2) * 1e9)
	}
	return 0
}

// clampLatency converts nanoseconds to a Duration within [0, maxLatency].
func clampLatency(ns float64) time.Duration {
	switch {
	case !(ns > 0):
		return 0
	case ns >= float64(maxLatency):
		return maxLatency
	}
	return time.Duration(ns)
}
