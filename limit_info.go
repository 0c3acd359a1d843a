package sluice

import "math"

// Info implements Limit: a semaphore holds its units until Finish. It
// reports no Capacity: a weight above its limit runs alone.
func (s *Semaphore) Info() LimitInfo { return LimitInfo{Holds: true, Ceiling: s.Limit()} }

// Info implements Limit; its Ceiling is the adaptive ceiling now.
func (a *AdaptiveLimit) Info() LimitInfo { return LimitInfo{Holds: true, Ceiling: a.Ceiling()} }

// Info implements Limit; its Period is the rate's, its Capacity a
// period's requests or the burst, whichever is larger.
func (l *RateLimiter) Info() LimitInfo {
	return LimitInfo{Period: l.Rate().Per, Capacity: l.capacity()}
}

// Info implements Limit; its Period is the window's, its Capacity the
// window's count.
func (w *SlidingWindow) Info() LimitInfo {
	return LimitInfo{Period: w.Rate().Per, Capacity: w.capacity()}
}

// Info implements Limit; its Period is the budget's, its Capacity a
// period's tokens of its kind.
func (b *TokenBudget) Info() LimitInfo {
	return LimitInfo{Period: b.Rate().Per, Capacity: b.capacity()}
}

// The capacity methods serve Info, and a Gate's check of every
// admission (toolarge.go), which calls them directly: Info also reads
// what the check does not need, a semaphore's limit under its mutex.

func (l *RateLimiter) capacity() Capacity {
	r := l.Rate()
	if r.IsZero() {
		return Capacity{}
	}
	return Capacity{Max: max(int64(l.Burst()), ceilCount(r.N))}
}

func (w *SlidingWindow) capacity() Capacity { return Capacity{Max: int64(w.limit)} }

func (b *TokenBudget) capacity() Capacity {
	r := b.Rate()
	if r.IsZero() {
		return Capacity{Tokens: true, Kind: b.kind}
	}
	return Capacity{Max: int64(capacity(r)), Tokens: true, Kind: b.kind}
}

// ceilCount is n rounded up, at least 1 and at most what an int64 holds.
func ceilCount(n float64) int64 {
	return int64(math.Min(math.Max(math.Ceil(n), 1), math.MaxInt64/2))
}
