package sluice

import "time"

// This file answers one question: how long would a call wait at a limit
// if nothing changed? A Gate asks it so that a caller whose deadline
// comes before its predicted admission is refused at once, having taken
// nothing, rather than holding its place in line until the deadline.
//
// Each predict returns a lower bound from now: the wait until own could be
// taken once ahead (what the callers in front of it ask, summed, with
// Requests counting their weights: 0 when nobody is ahead) has been
// taken.
// A limit that frees up on events rather than on time (a semaphore)
// cannot say, and predicts 0.

// Predict implements Limit (see predict.go).
func (l *RateLimiter) Predict(ahead, own Cost) time.Duration {
	return l.predictN(ahead.Requests, own.requests())
}

// predictN is the wait until n units could start behind aheadN others.
func (l *RateLimiter) predictN(aheadN, n int) time.Duration {
	p := l.params.Load()
	if p == nil || p.interval == 0 || n <= 0 {
		return 0
	}
	aheadCost := mulSat(int64(max(aheadN, 0)), p.interval)
	cost := mulSat(int64(n), p.interval)
	start := l.tat.Load() + aheadCost + min(cost, p.tau) - p.tau
	return max(0, time.Duration(start-l.now()))
}

// Predict implements Limit (see predict.go).
func (b *TokenBudget) Predict(ahead, own Cost) time.Duration {
	n := b.kind.of(own.InputTokens, own.OutputTokens)
	if n <= 0 {
		return 0
	}
	// Calls in flight may be refunded down to nothing when they settle:
	// the bound must hold even then. So may the callers ahead, once
	// admitted: each needs its estimate free to start, but gives most of
	// it back when the answer is short, as LLM answers mostly are. A
	// burst of calls with a large max_tokens was refused for a wait of
	// minutes that refunds ended in a second (outside review). The callers
	// ahead count only where the API charges estimates whole
	// (Cost.NoRefund), taking the caller's own as theirs: a gate's calls
	// go to one API.
	aheadN := 0
	if own.NoRefund {
		aheadN = b.kind.of(ahead.InputTokens, ahead.OutputTokens)
	}
	wait := b.bucket.predictN(aheadN, n)
	if p := b.bucket.params.Load(); p != nil && wait > 0 {
		wait -= time.Duration(mulSat(max(b.charged.Load(), 0), p.interval))
	}
	return max(wait, 0)
}

// Predict implements Limit (see predict.go).
func (w *SlidingWindow) Predict(ahead, own Cost) time.Duration {
	if w.limit == 0 {
		return 0
	}
	n := own.requests() + max(ahead.Requests, 0)
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	return time.Duration(w.earliest(min(n, w.limit), now) - now)
}

// Predict implements Limit (see predict.go).
func (s *Semaphore) Predict(Cost, Cost) time.Duration { return 0 }

// Predict implements Limit (see predict.go).
func (a *AdaptiveLimit) Predict(Cost, Cost) time.Duration { return 0 }
