package sluice

import (
	"net/http"
	"time"
)

// DefaultConcurrency is the most calls in flight when Limits says nothing.
const DefaultConcurrency = 8

// Limits describes an API's limits in the numbers the API publishes, and
// builds the Gate that keeps to them (NewGate). Every rate is applied with
// a small margin (its period is widened by 6ms) because the network
// bunches requests on their way: the guarantee must hold where the API
// counts, not where we send.
//
// The zero Limits means: at most DefaultConcurrency calls in flight with an
// adaptive ceiling, no rate until one is learned from the API's headers,
// and pauses capped at DefaultMaxPause.
type Limits struct {
	// Concurrency is the most calls in flight; 0 means DefaultConcurrency.
	Concurrency int
	// FixedConcurrency keeps the ceiling at Concurrency instead of
	// adapting it to the API's health (an adaptive ceiling starts at half
	// of Concurrency, at most 8, and moves between 1 and Concurrency; see
	// AdaptiveLimit).
	FixedConcurrency bool
	// Rate paces request starts; Burst (default 1) allows bursts.
	Rate  Rate
	Burst int
	// Window is a strict quota: at most Window.N starts in any
	// Window.Per.
	Window Rate
	// Tokens, InputTokens and OutputTokens are token budgets per period.
	Tokens, InputTokens, OutputTokens Rate
	// MaxPause caps one pause asked for by the API (Retry-After, a reset);
	// 0 means DefaultMaxPause.
	MaxPause time.Duration
	// Store, when set, shares the limits with every process and host
	// that names the same store and key (package redis): the rate,
	// window, token budgets, concurrency and pauses are kept there, and
	// the gate keeps in memory only its own concurrency ceiling and what
	// it learns from headers. Package redis shares the concurrency only
	// when Concurrency is set: a zero Concurrency is each process's own
	// DefaultConcurrency, not one for the whole fleet. Nil keeps
	// everything in this process.
	Store Store
}

// NewGate returns a Gate holding these limits. With a Store, it is the
// gate of key "" (see Store.Share). It panics when Validate refuses l.
func (l Limits) NewGate() *Gate {
	if err := l.Validate(); err != nil {
		panic(err)
	}
	return l.newGate("")
}

// newGate returns the Gate for key holding these limits.
func (l Limits) newGate(key string) *Gate {
	if l.Store != nil {
		return l.sharedGate(key)
	}
	var ls []Limit
	top := l.concurrencyTop()
	if l.FixedConcurrency {
		ls = append(ls, NewSemaphore(top))
	} else {
		ls = append(ls, NewAdaptiveLimit(1, top))
	}
	var rate *RateLimiter
	if !l.Rate.IsZero() {
		rate = NewRateLimiter(slicedSafe(apiSafe(l.Rate)), l.Burst)
		ls = append(ls, rate)
	}
	var window *SlidingWindow
	if !l.Window.IsZero() {
		window = NewSlidingWindow(slicedSafe(apiSafe(l.Window)))
		ls = append(ls, window)
	}
	for kind, r := range [...]Rate{AllTokens: l.Tokens, InputTokens: l.InputTokens, OutputTokens: l.OutputTokens} {
		if !r.IsZero() {
			ls = append(ls, NewTokenBudget(apiSafe(r), TokenKind(kind)))
		}
	}
	g := NewGate(ls...)
	if rate != nil {
		g.margin.rate, g.margin.given = rate, rate.Rate()
	}
	if window != nil {
		g.margin.window, g.margin.givenWindow = window, window.Rate()
	}
	if l.MaxPause > 0 {
		g.learned.maxPause = l.MaxPause
	}
	return g
}

// sharedGate returns the gate for key of limits kept in l.Store: in this
// process it keeps the concurrency ceiling (which the shared concurrency
// bounds too), so that adaptation still answers this process's own
// signals.
func (l Limits) sharedGate(key string) *Gate {
	top := l.concurrencyTop()
	var own Limit = NewAdaptiveLimit(1, top)
	if l.FixedConcurrency {
		own = NewSemaphore(top)
	}
	g := NewSharedGate(l.Store.Share(key, l.safe()), own)
	g.margin.shared = sharedGiven(l.safe())
	// A shared window counts a call from when it leaves (SentTicket).
	g.dated = g.dated || !l.Window.IsZero()
	if l.MaxPause > 0 {
		g.learned.maxPause = l.MaxPause
	}
	return g
}

// safe returns l with every rate slowed by the network's margin
// (apiSafe), as NewGate applies it to the limits it keeps in memory: a
// Store is handed the rates to keep, not the API's numbers.
func (l Limits) safe() Limits {
	l.Rate, l.Window = slicedSafe(apiSafe(l.Rate)), slicedSafe(apiSafe(l.Window))
	l.Tokens, l.InputTokens, l.OutputTokens = apiSafe(l.Tokens), apiSafe(l.InputTokens), apiSafe(l.OutputTokens)
	return l
}

// HTTPTransport returns the connection pool a Transport with these limits
// sends through when its Base is nil: a clone of http.DefaultTransport
// keeping an idle connection per concurrency slot. It is for callers who
// wrap the base (to watch or record attempts) and want the same pool.
func (l Limits) HTTPTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = l.concurrencyTop()
	tr.MaxIdleConns = max(tr.MaxIdleConns, tr.MaxIdleConnsPerHost)
	return tr
}

// concurrencyTop returns the most calls in flight the limits allow.
func (l Limits) concurrencyTop() int {
	if l.Concurrency <= 0 {
		return DefaultConcurrency
	}
	return l.Concurrency
}

// tokenLimited reports whether the limits keep a token budget.
func (l Limits) tokenLimited() bool {
	return !l.Tokens.IsZero() || !l.InputTokens.IsZero() || !l.OutputTokens.IsZero()
}
