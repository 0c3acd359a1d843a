package sluice

import (
	"strings"
	"time"
)

// Anthropic's and OpenAI's headers do not name their window: their limits
// are per minute, so the parsers say a minute. Both document a bucket
// that refills continuously, whose reset is when it is full again
// (Anthropic: "fully replenished"; OpenAI: "resets to its initial
// state"): L-R used of a limit L per minute is back after (L-R)/L of a
// minute, and not before. A reset sooner than that, beyond how finely it
// was written, cannot come from such a minute. It comes from a shorter
// window wearing these headers (a gateway or a clone counting per second
// in the fields meant for a minute), or from a fixed minute that ends
// soon (Anthropic's headers once read so); in both, what remains is
// there until the reset, and the gate may spend it by then (learn.go,
// pace). A reset that agrees with the minute, or is later, changes
// nothing: real per-minute headers are learned as they always were.

// refuteMinute marks q (resetGrain) when its Reset refutes the minute
// its window was taken to be: something of the limit remains and was used,
// and the reset comes sooner, by more than grain, than a minute's bucket
// could refill what was used. A quota with nothing remaining is left
// alone: its reset says when the first unit comes back, which a fixed
// minute and a bucket both allow, and it gives no faster pace.
func (q Quota) refuteMinute(grain time.Duration) Quota {
	if q.Window != time.Minute || q.Remaining <= 0 || q.Remaining >= q.Limit || q.Reset <= 0 {
		return q
	}
	if q.Reset+max(grain, time.Nanosecond) < refillTime(q) {
		q.resetGrain = max(grain, time.Nanosecond)
	}
	return q
}

// refillTime is how long q's window, as a continuously refilling bucket,
// takes to regain what was used of it.
func refillTime(q Quota) time.Duration {
	if q.Limit <= 0 || q.Remaining < 0 {
		return 0
	}
	return time.Duration(float64(q.Limit-q.Remaining) / float64(q.Limit) * float64(q.Window))
}

// decimalGrain returns the unit of the last digit of the decimal number in
// v (an RFC 3339 time's seconds, or plain seconds): 1ms for "…:30.123Z"
// or "0.123", whole for "…:30Z" or "30".
func decimalGrain(v string, whole time.Duration) time.Duration {
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return whole
	}
	g := whole
	for _, c := range v[i+1:] {
		if c < '0' || c > '9' || g < 10 {
			break
		}
		g /= 10
	}
	return g
}

// durationGrain returns the unit of the last digit of a Go-style duration
// such as OpenAI's resets: 1ms for "20ms", 10ms for "7.66s", 1s for "6m0s".
func durationGrain(v string) time.Duration {
	end := len(v)
	for end > 0 && (v[end-1] < '0' || v[end-1] > '9') {
		end--
	}
	unit := time.Second
	switch v[end:] {
	case "h":
		unit = time.Hour
	case "m":
		unit = time.Minute
	case "ms":
		unit = time.Millisecond
	case "us", "µs", "μs":
		unit = time.Microsecond
	case "ns":
		unit = time.Nanosecond
	}
	start := end
	for start > 0 && (v[start-1] >= '0' && v[start-1] <= '9' || v[start-1] == '.') {
		start--
	}
	return decimalGrain(v[start:end], unit)
}
