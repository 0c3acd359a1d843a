package main

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// breakdown says where a round's time went: from the start to the first
// arrival at the API (dials, the first admissions), from the first
// arrival to the last (the pace: limit arrivals a second is (n-1)/limit),
// and from the last arrival to the end (its latency and the way back).
func breakdown(begin time.Time, elapsed time.Duration, arrivals []time.Time, limit int) string {
	if len(arrivals) < 2 {
		return "too few arrivals"
	}
	sorted := slices.SortedFunc(slices.Values(arrivals), time.Time.Compare)
	first, last := sorted[0], sorted[len(sorted)-1]
	span := last.Sub(first)
	paced := time.Duration(len(sorted)-1) * time.Second / time.Duration(limit)
	return fmt.Sprintf("start %v, arrivals %v (%v a gap, %.4f× the limit's), tail %v",
		first.Sub(begin).Round(10*time.Microsecond), span.Round(10*time.Microsecond),
		(span / time.Duration(len(sorted)-1)).Round(time.Microsecond), float64(span)/float64(paced),
		begin.Add(elapsed).Sub(last).Round(10*time.Microsecond))
}

// refusal is a 429 the API sent: when its call arrived, and why.
type refusal struct {
	at   time.Time
	body string
}

// statusWriter notes the status and body a handler writes.
type statusWriter struct {
	http.ResponseWriter
	status int
	body   string
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.status != http.StatusOK {
		w.body += string(p)
	}
	return w.ResponseWriter.Write(p)
}
