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
	r := l.Rate()
	info := LimitInfo{Period: r.Per}
	if !r.IsZero() {
		info.Capacity.Max = max(int64(l.Burst()), ceilCount(r.N))
	}
	return info
}

// Info implements Limit; its Period is the window's, its Capacity the
// window's count.
func (w *SlidingWindow) Info() LimitInfo {
	r := w.Rate()
	return LimitInfo{Period: r.Per, Capacity: Capacity{Max: int64(r.N)}}
}

// Info implements Limit; its Period is the budget's, its Capacity a
// period's tokens of its kind.
func (b *TokenBudget) Info() LimitInfo {
	r := b.Rate()
	info := LimitInfo{Period: r.Per, Capacity: Capacity{Tokens: true, Kind: b.kind}}
	if !r.IsZero() {
		info.Capacity.Max = int64(capacity(r))
	}
	return info
}

// ceilCount is n rounded up, at least 1 and at most what an int64 holds.
func ceilCount(n float64) int64 {
	return int64(math.Min(math.Max(math.Ceil(n), 1), math.MaxInt64/2))
}
