package mock

import (
	"math"
	"time"
)

// cost is what a request takes from the token buckets.
type cost struct {
	input, output int64
	// reserved is the output OpenAI's token limit counts: the request's
	// max_tokens, charged as it arrives whatever the answer uses ("the
	// maximum of max_tokens and the estimated number of tokens based on
	// the character count of your request", its rate limit guide). 0 for
	// Anthropic, which settles with what was used, and for a request
	// without max_tokens.
	reserved int64
}

func (c cost) total() int64 { return c.input + c.output }

// counted is what the tokens bucket (OpenAI's one token limit) takes.
func (c cost) counted() int64 { return c.input + max(c.output, c.reserved) }

// Why requests are throttled: the keys of Stats.Throttled.
const (
	reasonQuota       = "quota"
	reasonConcurrency = "concurrency"
	reasonRequests    = "requests"
	reasonInput       = "input_tokens"
	reasonOutput      = "output_tokens"
	reasonTokens      = "tokens"
)

// concurrencyRetry is the Retry-After sent with a concurrency refusal: the
// mock cannot know when a slot frees, and real APIs say little more.
const concurrencyRetry = time.Second

// refusal says why a request was throttled.
type refusal struct {
	reason   string
	limit    Limit         // the limit that refused; zero for quota and concurrency
	need     float64       // units the request asked for
	have     float64       // units the bucket held
	wait     time.Duration // until the bucket holds need
	tooLarge bool          // need is more than the bucket ever holds
	snap     snapshot      // the limits' state when refused
}

// retryAfter returns how long the client should wait, and false when
// waiting cannot help (quota used up, request larger than the bucket).
func (r refusal) retryAfter() (time.Duration, bool) {
	switch {
	case r.reason == reasonQuota || r.tooLarge:
		return 0, false
	case r.reason == reasonConcurrency:
		return concurrencyRetry, true
	}
	return r.wait, true
}

// retryAfterSeconds returns a retry-after in whole seconds, rounded up, at
// least 1.
func retryAfterSeconds(d time.Duration) int64 {
	return max(1, int64(math.Ceil(d.Seconds())))
}

// snapshot is the state of a Server's limits at one moment, for headers.
type snapshot struct {
	now                             time.Time
	requests, input, output, tokens bucketState
}

// bucketState is one bucket's state; set is false for no limit.
type bucketState struct {
	set       bool
	limit     Limit
	perMinute int64 // the limit as the APIs report it: per minute, at least 1
	capacity  int64 // whole units the bucket holds when full
	remaining int64
	untilFull time.Duration
}

func (b *bucket) state() bucketState {
	if b == nil {
		return bucketState{}
	}
	return bucketState{
		set:       true,
		limit:     b.limit,
		perMinute: max(1, int64(math.Floor(b.limit.PerMinute()*(1+epsilon)))),
		capacity:  int64(math.Floor(b.capacity * (1 + epsilon))),
		remaining: b.remaining(),
		untilFull: b.untilFull(),
	}
}

// snapshotLocked returns the limits' state at now; s.mu is held and the
// buckets are refilled to now.
func (s *Server) snapshotLocked(now time.Time) snapshot {
	return snapshot{
		now:      now,
		requests: s.requests.state(),
		input:    s.input.state(),
		output:   s.output.state(),
		tokens:   s.tokens.state(),
	}
}

// snapshot returns the limits' state now.
func (s *Server) snapshot() snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.refillLocked(now)
	return s.snapshotLocked(now)
}

func (s *Server) refillLocked(now time.Time) {
	for _, b := range []*bucket{s.requests, s.input, s.output, s.tokens} {
		b.refill(now)
	}
}

// admit checks a request that will cost c against every limit, in the
// order quota, concurrency, requests, tokens, and either takes what it
// needs from all of them and gives it a concurrency slot, or takes nothing
// and says why not. An admitted request must call release, and refund if it
// gets no 2xx.
func (s *Server) admit(c cost) (refusal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.refillLocked(now)
	ref, ok := s.checkLocked(c)
	if !ok {
		ref.snap = s.snapshotLocked(now)
		s.stats.Throttled[ref.reason]++
		return ref, false
	}
	s.requests.take(1)
	s.input.take(float64(c.input))
	s.output.take(float64(c.output))
	s.tokens.take(float64(c.counted()))
	s.inFlight++
	s.stats.PeakConcurrency = max(s.stats.PeakConcurrency, s.inFlight)
	return refusal{}, true
}

// checkLocked finds the first limit that refuses c.
func (s *Server) checkLocked(c cost) (refusal, bool) {
	if q := s.cfg.Quota; q > 0 && s.quotaUsed >= q {
		return refusal{reason: reasonQuota, need: float64(c.total())}, false
	}
	if n := s.cfg.Concurrency; n > 0 && s.inFlight >= int64(n) {
		return refusal{reason: reasonConcurrency, need: 1}, false
	}
	for _, b := range []struct {
		reason string
		b      *bucket
		need   float64
	}{
		{reasonRequests, s.requests, 1},
		{reasonInput, s.input, float64(c.input)},
		{reasonOutput, s.output, float64(c.output)},
		{reasonTokens, s.tokens, float64(c.counted())},
	} {
		if b.b.covers(b.need) {
			continue
		}
		wait, ok := b.b.wait(b.need)
		return refusal{
			reason:   b.reason,
			limit:    b.b.limit,
			need:     b.need,
			have:     b.b.level,
			wait:     wait,
			tooLarge: !ok,
		}, false
	}
	return refusal{}, true
}

// accept counts an admitted request as answered 2xx, charges its tokens to
// the quota and returns how many have been accepted, this one included,
// with the limits' state for its headers.
func (s *Server) accept(c cost) (int64, snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Accepted++
	s.stats.InputTokens += c.input
	s.stats.OutputTokens += c.output
	s.quotaUsed += c.total()
	now := time.Now()
	s.refillLocked(now)
	return s.stats.Accepted, s.snapshotLocked(now)
}

// release frees an admitted request's concurrency slot.
func (s *Server) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight--
}

// refund gives an admitted request that will get no 2xx its tokens back,
// since no usage is reported for it, and counts how it ended. Its request
// unit is not given back: the API saw it.
func (s *Server) refund(c cost, count func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	count(&s.stats)
	s.refillLocked(time.Now())
	s.input.give(float64(c.input))
	s.output.give(float64(c.output))
	s.tokens.give(float64(c.counted()))
}
