package mock

import (
	"math"
	"time"
)

// bucket is a token bucket in plain arithmetic: level units available, up
// to capacity, refilled continuously at rate units a second. It is not safe
// for concurrent use; the Server's mutex guards it. A nil *bucket is no
// limit.
type bucket struct {
	limit    Limit
	capacity float64
	rate     float64 // units a second
	level    float64
	last     time.Time // when level was last brought up to date
}

// epsilon absorbs float rounding, so that a bucket refilled for exactly the
// time it needed is seen to hold what it needed.
const epsilon = 1e-9

// newBucket returns a full bucket for l, or nil when l is no limit. It
// holds at least one unit, so that a limit below one per period (0.5/s)
// still admits a request every 1/rate.
func newBucket(l Limit, now time.Time) *bucket {
	if l.IsZero() {
		return nil
	}
	c := max(l.N, 1)
	return &bucket{limit: l, capacity: c, rate: l.N / l.Per.Seconds(), level: c, last: now}
}

// refill brings the level up to date at now. A clock that went backwards
// refills nothing.
func (b *bucket) refill(now time.Time) {
	if b == nil {
		return
	}
	if d := now.Sub(b.last); d > 0 {
		b.level = min(b.capacity, b.level+d.Seconds()*b.rate)
		b.last = now
	}
}

// covers reports whether the bucket holds n units.
func (b *bucket) covers(n float64) bool {
	return b == nil || b.level+epsilon*max(1, n) >= n
}

// take removes n units; the caller has checked covers.
func (b *bucket) take(n float64) {
	if b != nil {
		b.level = max(0, b.level-n)
	}
}

// give puts n units back, as if they had never been taken.
func (b *bucket) give(n float64) {
	if b != nil {
		b.level = min(b.capacity, b.level+n)
	}
}

// wait returns how long until the bucket holds n units, and false when it
// never will because n is more than it can hold.
func (b *bucket) wait(n float64) (time.Duration, bool) {
	if b == nil || b.covers(n) {
		return 0, true
	}
	if n > b.capacity+epsilon*n {
		return 0, false
	}
	return secondsUp((n - b.level) / b.rate), true
}

// untilFull returns how long until the bucket is full again.
func (b *bucket) untilFull() time.Duration {
	return secondsUp((b.capacity - b.level) / b.rate)
}

// remaining returns the whole units the bucket holds.
func (b *bucket) remaining() int64 {
	return int64(math.Floor(b.level + epsilon*max(1, b.level)))
}

// secondsUp converts seconds to a Duration, rounding up to the nanosecond
// so that waiting that long is always enough. A thousandth of a nanosecond
// of float noise is not rounded up: covers forgives it.
func secondsUp(s float64) time.Duration {
	if s <= 0 {
		return 0
	}
	ns := math.Ceil(s*1e9 - 1e-3)
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}
