package mock

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Limit is a continuously replenished bucket: it holds N units (at least
// one) and refills at N per Per, so Limit{20, time.Second} allows a burst of
// 20 and 20 a second after that. The zero value (N == 0) is no limit.
type Limit struct {
	N   float64
	Per time.Duration
}

// Bounds on what a Limit may say: beyond them the per-minute figures the
// headers report stop being meaningful numbers.
const (
	maxLimitN   = 1e15
	maxLimitPer = 366 * 24 * time.Hour
)

// IsZero reports whether l is no limit.
func (l Limit) IsZero() bool { return l.N == 0 }

// PerMinute returns l's rate in units a minute, as the APIs' headers report
// it.
func (l Limit) PerMinute() float64 {
	if l.IsZero() || l.Per <= 0 {
		return 0
	}
	return l.N * float64(time.Minute) / float64(l.Per)
}

// String returns l in the form ParseLimit reads, such as "20/s", "1200/m"
// or "100/10s"; the zero Limit is "".
func (l Limit) String() string {
	if l.IsZero() {
		return ""
	}
	n := strconv.FormatFloat(l.N, 'g', -1, 64)
	switch l.Per {
	case time.Second:
		return n + "/s"
	case time.Minute:
		return n + "/m"
	case time.Hour:
		return n + "/h"
	}
	return n + "/" + l.Per.String()
}

// validate reports what is wrong with l, if anything.
func (l Limit) validate() error {
	switch {
	case l.IsZero():
		return nil
	case !(l.N > 0) || math.IsInf(l.N, 0):
		return fmt.Errorf("count %v is not a positive number", l.N)
	case l.N > maxLimitN:
		return fmt.Errorf("count %v is more than %g", l.N, float64(maxLimitN))
	case l.Per <= 0:
		return fmt.Errorf("count %v needs a positive period (Per)", l.N)
	case l.Per > maxLimitPer:
		return fmt.Errorf("period %v is longer than %v", l.Per, maxLimitPer)
	}
	return nil
}

// periods are the unit names ParseLimit knows; anything else after the
// slash must be a Go duration such as "10s" or "1m30s".
var periods = map[string]time.Duration{
	"ms": time.Millisecond,
	"s":  time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
}

// ParseLimit reads a limit written as N/period: "20/s", "1200/m",
// "40000/min", "0.5/s", "100/10s", "1000/1m30s". The period is a unit (ms,
// s, m, h, d and their long forms), a number and a unit ("10s", "2min"), or
// any Go duration. The empty string is the zero Limit, no limit. Errors name
// the part that is wrong.
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Limit{}, nil
	}
	count, period, ok := strings.Cut(s, "/")
	if !ok {
		return Limit{}, fmt.Errorf("mock: limit %q: want N/period, such as 20/s, 1200/m or 100/10s", s)
	}
	count, period = strings.TrimSpace(count), strings.TrimSpace(period)
	n, err := strconv.ParseFloat(count, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return Limit{}, fmt.Errorf("mock: limit %q: count %q is not a number", s, count)
	}
	if n <= 0 {
		return Limit{}, fmt.Errorf("mock: limit %q: count %q must be positive", s, count)
	}
	if n > maxLimitN {
		return Limit{}, fmt.Errorf("mock: limit %q: count %q is more than %g", s, count, float64(maxLimitN))
	}
	per, err := parsePeriod(period)
	if err != nil {
		return Limit{}, fmt.Errorf("mock: limit %q: period %q: %v", s, period, err)
	}
	return Limit{N: n, Per: per}, nil
}

// parsePeriod reads what follows the slash of a limit.
func parsePeriod(p string) (time.Duration, error) {
	if p == "" {
		return 0, fmt.Errorf("missing (want s, m, h or a duration such as 10s)")
	}
	i := strings.IndexFunc(p, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if unit, ok := periods[strings.ToLower(p[max(i, 0):])]; ok && i >= 0 {
		mult := 1.0
		if i > 0 {
			f, err := strconv.ParseFloat(p[:i], 64)
			if err != nil {
				return 0, fmt.Errorf("%q is not a number", p[:i])
			}
			mult = f
		}
		ns := mult * float64(unit)
		if !(ns >= 1) || ns > float64(maxLimitPer) {
			return 0, fmt.Errorf("must be between 1ns and %v", maxLimitPer)
		}
		return time.Duration(math.Round(ns)), nil
	}
	d, err := time.ParseDuration(p)
	if err != nil {
		return 0, fmt.Errorf("unknown unit (want s, m, h or a duration such as 10s)")
	}
	if d <= 0 || d > maxLimitPer {
		return 0, fmt.Errorf("must be between 1ns and %v", maxLimitPer)
	}
	return d, nil
}
