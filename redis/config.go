package redis

import (
	"math"
	"time"

	"github.com/sluicehq/sluice"
)

// config is one gate's shared limits as the admit script takes them.
type config struct {
	limits      sluice.Limits // widened (widen)
	given       sluice.Limits // as the gate gave them, for errors
	concurrency int           // 0: none shared (Limits.Concurrency 0)
	windowN     int           // 0: none
	windowUs    int64         // window length
	pacers      []pacer
}

// period returns the longest period of the request rate and the window,
// widened: how long a call's start counts against the calls after it.
func (c config) period() time.Duration {
	return max(c.limits.Rate.Per, c.limits.Window.Per)
}

// pacer is one GCRA timeline: the request rate or a token budget.
type pacer struct {
	key        string
	tokens     bool
	kind       sluice.TokenKind // for tokens
	intervalNs float64          // per unit
	tauUs      int64            // burst tolerance
	capacity   int64            // the most units one call may ask
}

// maxDebtPeriods is how many periods of a token rate a settlement may
// leave its timeline ahead of now: sluice.TokenBudget's bound, so that an
// absurd reported usage stops the shared budget for minutes, not years.
const maxDebtPeriods = 10

// costUs is n units' worth of time, rounded up: the script keeps whole
// microseconds, and rounding down would run a hair fast.
func (p pacer) costUs(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return int64(math.Ceil(float64(n) * p.intervalNs / 1000))
}

// rate returns p's rate among l's.
func (p pacer) rate(l sluice.Limits) sluice.Rate {
	if !p.tokens {
		return l.Rate
	}
	return [...]sluice.Rate{l.Tokens, l.InputTokens, l.OutputTokens}[p.kind]
}

// units returns what c asks of p.
func (p pacer) units(c sluice.Cost) int64 {
	if !p.tokens {
		return int64(max(c.Requests, 1))
	}
	return tokensOf(p.kind, c.InputTokens, c.OutputTokens)
}

func tokensOf(k sluice.TokenKind, in, out int) int64 {
	in, out = max(in, 0), max(out, 0)
	switch k {
	case sluice.InputTokens:
		return int64(in)
	case sluice.OutputTokens:
		return int64(out)
	}
	return int64(in) + int64(out)
}

// widen returns r with its period widened by a margin for processes: the
// gate's own margin (6ms a period) covers the network's jitter between
// one process and the API, but calls of several processes also reach the
// API after their admission by delays that differ from process to process
// (scheduling, a response from Redis), and a strict window counts them
// bunched. Another 1%, at least 14ms (20ms a second in all, with the
// gate's), kept three processes at a strict 100/s with no 429 where the
// gate's margin alone let one through (BENCHMARKS.md).
func widen(r sluice.Rate) sluice.Rate {
	if r.IsZero() {
		return r
	}
	return sluice.Rate{N: r.N, Per: r.Per + max(r.Per/100, 14*time.Millisecond)}
}

// newConfig turns l into the script's terms under the keys k.
func newConfig(l sluice.Limits, k keys) config {
	given := l
	l.Rate, l.Window = widen(l.Rate), widen(l.Window)
	l.Tokens, l.InputTokens, l.OutputTokens = widen(l.Tokens), widen(l.InputTokens), widen(l.OutputTokens)
	// A zero Concurrency is not shared: each process keeps its own
	// default in memory (the gate's ceiling). Shared, it was one
	// DefaultConcurrency for the whole fleet, and twenty processes
	// sharing "just a rate" ran 8 calls in flight together (outside
	// review).
	c := config{limits: l, given: given, concurrency: max(l.Concurrency, 0)}
	if !l.Window.IsZero() {
		c.windowN = max(int(math.Floor(l.Window.N)), 1)
		c.windowUs = int64(l.Window.Per / time.Microsecond)
	}
	if !l.Rate.IsZero() {
		burst := max(l.Burst, 1)
		iv := float64(l.Rate.Per) / l.Rate.N
		c.pacers = append(c.pacers, pacer{
			key: k.rate, intervalNs: iv, tauUs: int64(float64(burst) * iv / 1000),
			capacity: int64(max(burst, int(math.Ceil(l.Rate.N)))),
		})
	}
	for kind, r := range [...]sluice.Rate{sluice.AllTokens: l.Tokens, sluice.InputTokens: l.InputTokens, sluice.OutputTokens: l.OutputTokens} {
		if r.IsZero() {
			continue
		}
		capacity := int64(max(math.Ceil(r.N), 1))
		iv := float64(r.Per) / r.N
		c.pacers = append(c.pacers, pacer{
			key: k.tokens[kind], tokens: true, kind: sluice.TokenKind(kind), intervalNs: iv,
			tauUs: int64(float64(capacity) * iv / 1000), capacity: capacity,
		})
	}
	return c
}

// keys are one gate's keys, all under the store's hash tag.
type keys struct {
	pause, leases, window, procs, released, rate string
	// pending holds the window members of calls not yet sent (admit.lua).
	pending      string
	tokens       [3]string
	learned      string
	learnedPaces [4]string // requests, then tokens by kind
}

func newKeys(tag, gate string) keys {
	b := tag + ":" + gate + ":"
	return keys{
		pause: b + "pause", leases: b + "leases", window: b + "window", pending: b + "window-pending", procs: tag + ":procs",
		released: b + "released", rate: b + "rate",
		tokens:  [3]string{b + "tokens", b + "input-tokens", b + "output-tokens"},
		learned: b + "learned",
		learnedPaces: [4]string{b + "learned-rate", b + "learned-tokens", b + "learned-input-tokens",
			b + "learned-output-tokens"},
	}
}

// local returns in-memory limits at 1/share of c, for Local mode: each of
// share processes keeps its part, so that together they keep the whole
// (rounded down to whole calls a window: see the rate below).
// They start spent (an empty bucket, a full window): Redis may have just
// admitted a full window's or burst's worth that this process cannot see,
// and a fresh limit would add its own on top. Falling back thus costs at
// most a period of the limits' own pace, never a burst beyond them.
//
// The concurrency part, returned apart too (nil without a shared
// concurrency), admits up to slots calls (shared.slots says how many),
// or as many as this process holds when more: held, the calls it has in
// flight through Redis leases, are taken from it at once and give their
// units back when they end (shared.unhold). An empty one admitted slots
// on top of them, and two processes holding 2+2 of a shared 4 ran 8
// during an outage (outside review).
func (c config) local(share, slots, held int) ([]sluice.Limit, *sluice.Semaphore) {
	f := float64(max(share, 1))
	var ls []sluice.Limit
	l := c.limits
	if !l.Rate.IsZero() {
		burst := max(l.Burst/share, 1)
		// Whole calls a window each: the parts must keep the API's
		// window together, not just its average. 10/s among three at
		// 3.33/s each is a start every 300ms, 4 in some second, and 12
		// in a second of three processes in step; at 3/s each, 9. Fewer
		// calls a window than processes can be kept only on average.
		part := sluice.Rate{N: math.Floor(l.Rate.N / f), Per: l.Rate.Per}
		if part.N < 1 {
			part.N = l.Rate.N / f
		}
		rl := sluice.NewRateLimiter(part, burst)
		rl.AllowN(burst)
		ls = append(ls, rl)
	}
	if c.windowN > 0 {
		n := max(c.windowN/share, 1)
		w := sluice.NewSlidingWindow(sluice.Rate{N: float64(n), Per: l.Window.Per})
		w.Take(sluice.Cost{Requests: n}, time.Time{}, 0)
		ls = append(ls, w)
	}
	for _, p := range c.pacers {
		if p.tokens {
			r := [...]sluice.Rate{l.Tokens, l.InputTokens, l.OutputTokens}[p.kind]
			r = sluice.Rate{N: r.N / f, Per: r.Per}
			b := sluice.NewTokenBudget(r, p.kind)
			b.AllowN(int(max(r.N, 1)))
			ls = append(ls, b)
		}
	}
	if c.concurrency <= 0 {
		return ls, nil
	}
	// The limit is what this process may have in flight: its slots, or
	// the calls it holds when more. A Semaphore's limit is at least 1:
	// with neither, one unit is taken for good, and nothing is admitted.
	limit := max(slots, held)
	sem := sluice.NewSemaphore(max(limit, 1))
	sem.TryAcquire(held + max(1-limit, 0))
	return append(ls, sem), sem
}
