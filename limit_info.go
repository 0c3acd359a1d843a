package sluice

// Info implements Limit: a semaphore holds its units until Finish.
func (s *Semaphore) Info() LimitInfo { return LimitInfo{Holds: true, Ceiling: s.Limit()} }

// Info implements Limit; its Ceiling is the adaptive ceiling now.
func (a *AdaptiveLimit) Info() LimitInfo { return LimitInfo{Holds: true, Ceiling: a.Ceiling()} }

// Info implements Limit; its Period is the rate's.
func (l *RateLimiter) Info() LimitInfo { return LimitInfo{Period: l.Rate().Per} }

// Info implements Limit; its Period is the window's.
func (w *SlidingWindow) Info() LimitInfo { return LimitInfo{Period: w.Rate().Per} }

// Info implements Limit; its Period is the budget's.
func (b *TokenBudget) Info() LimitInfo { return LimitInfo{Period: b.Rate().Per} }
