package sluice

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// A Rate is a number of units per period: 50 per second, 3000 per minute,
// 100 per 10 seconds. Units are whatever the limit counts: requests for a
// RateLimiter or a SlidingWindow, tokens for a TokenBudget.
//
// The zero Rate means "no limit". A Rate is a plain value, safe to copy and
// to share.
type Rate struct {
	N   float64       // units per period; positive and finite
	Per time.Duration // the period; positive
}

// PerSecond returns a Rate of n units per second.
func PerSecond(n float64) Rate { return Rate{N: n, Per: time.Second} }

// PerMinute returns a Rate of n units per minute.
func PerMinute(n float64) Rate { return Rate{N: n, Per: time.Minute} }

// IsZero reports whether r is the zero Rate, which means no limit.
func (r Rate) IsZero() bool { return r.N == 0 && r.Per == 0 }

// Interval returns the time one unit takes at this rate, rounded up to the
// nanosecond so that pacing by it never exceeds the rate. It is 0 for the
// zero Rate.
func (r Rate) Interval() time.Duration {
	if r.N <= 0 || r.Per <= 0 {
		return 0
	}
	if r.N == math.Trunc(r.N) && r.N <= 1<<53 {
		// Whole counts divide exactly: a float64 holds no period longer
		// than 104 days to the nanosecond, and rounding it down would
		// pace faster than the rate.
		n := int64(r.N)
		iv := int64(r.Per) / n
		if int64(r.Per)%n != 0 {
			iv++
		}
		return time.Duration(min(iv, maxSpan))
	}
	iv := math.Ceil(float64(r.Per) / r.N)
	if r.Per > 1<<53 {
		iv++ // float64(r.Per) may have rounded down
	}
	if iv > maxSpan {
		return maxSpan
	}
	return time.Duration(iv)
}

// PerSec returns the rate in units per second.
func (r Rate) PerSec() float64 {
	if r.Per <= 0 {
		return 0
	}
	return r.N / r.Per.Seconds()
}

// String formats r the way ParseRate reads it: "50/s", "3000/m", "100/10s".
func (r Rate) String() string {
	if r.IsZero() {
		return "unlimited"
	}
	n := strconv.FormatFloat(r.N, 'g', -1, 64)
	switch r.Per {
	case time.Millisecond:
		return n + "/ms"
	case time.Second:
		return n + "/s"
	case time.Minute:
		return n + "/m"
	case time.Hour:
		return n + "/h"
	case 24 * time.Hour:
		return n + "/d"
	}
	return n + "/" + r.Per.String()
}

// validate reports why r cannot be used as a limit, or nil.
func (r Rate) validate() error {
	if r.IsZero() {
		return nil
	}
	switch {
	case math.IsNaN(r.N) || math.IsInf(r.N, 0) || r.N <= 0:
		return fmt.Errorf("sluice: rate %v: count must be a positive number", r.N)
	case r.Per <= 0:
		return fmt.Errorf("sluice: rate %v/%v: period must be positive", r.N, r.Per)
	case float64(r.Per)/r.N < 1:
		return fmt.Errorf("sluice: rate %v/%v: faster than one unit per nanosecond", r.N, r.Per)
	}
	return nil
}

// ErrBadRate is wrapped by every error ParseRate returns.
var ErrBadRate = errors.New("bad rate")

// units maps the names a rate's period may use to their length.
var units = map[string]time.Duration{
	"ms": time.Millisecond, "msec": time.Millisecond, "millisecond": time.Millisecond,
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hour": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour,
}

// ParseRate reads a rate written as COUNT/PERIOD: "50/s", "3000/m",
// "100/10s", "2/h", "0.5/s", "1000000/h". PERIOD is a unit (ms, s, m or min,
// h, d, and their long names, singular or plural) or a Go duration ("10s",
// "1m30s"). Errors wrap ErrBadRate and name the part that is wrong.
func ParseRate(s string) (Rate, error) {
	bad := func(format string, args ...any) (Rate, error) {
		return Rate{}, fmt.Errorf("sluice: rate %q: %s: %w", s, fmt.Sprintf(format, args...), ErrBadRate)
	}
	count, period, ok := strings.Cut(s, "/")
	if !ok {
		return bad("want COUNT/PERIOD, such as 50/s or 3000/m")
	}
	count, period = strings.TrimSpace(count), strings.TrimSpace(period)
	if count == "" {
		return bad("missing count before /")
	}
	n, err := strconv.ParseFloat(count, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return bad("count %q is not a number", count)
	}
	if n <= 0 {
		return bad("count %q must be positive", count)
	}
	per, err := parsePeriod(period)
	if err != nil {
		return bad("%v", err)
	}
	r := Rate{N: n, Per: per}
	if float64(per)/n < 1 {
		return bad("faster than one unit per nanosecond")
	}
	return r, nil
}

// parsePeriod reads the part of a rate after the slash.
func parsePeriod(p string) (time.Duration, error) {
	if p == "" {
		return 0, errors.New("missing period after /")
	}
	if d, ok := units[strings.TrimSuffix(strings.ToLower(p), "s")]; ok && len(p) > 2 {
		return d, nil // a plural long name: "seconds", "mins"
	}
	if d, ok := units[strings.ToLower(p)]; ok {
		return d, nil
	}
	if p[0] < '0' || p[0] > '9' {
		if p[0] != '.' {
			return 0, fmt.Errorf("unknown period unit %q (want ms, s, m, h, d or a duration like 10s)", p)
		}
	}
	d, err := time.ParseDuration(p)
	if err != nil {
		return 0, fmt.Errorf("period %q is not a duration", p)
	}
	if d <= 0 {
		return 0, fmt.Errorf("period %q must be positive", p)
	}
	return d, nil
}
