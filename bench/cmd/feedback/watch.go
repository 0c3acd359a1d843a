package main

import (
	"fmt"

	"github.com/sluicehq/sluice"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sync"
	"time"
)

// watcher is a Base under sluice's Transport that notes when each
// attempt was handed to it (its admission, give or take a few µs) and
// how many were in flight below the Transport then.
type watcher struct {
	base     http.RoundTripper
	stats    func() sluice.GateStats // the Transport's, once made
	mu       sync.Mutex
	inFlight int
	admitted []admission
	wrote    []time.Time // when net/http reported each request written
	// How long after being handed over each request was written: over
	// 1, 2 and 4 ms, and the longest.
	late1, late2, late4 int
	lateMost            time.Duration
}

type admission struct {
	at       time.Time
	inFlight int // others below the Transport then
	ceiling  int // the Transport's concurrency ceiling then
}

// watched is the watcher of the round being run; nil for the others.
var watched *watcher

func watch(base http.RoundTripper) *watcher {
	watched = &watcher{base: base}
	return watched
}

func (w *watcher) RoundTrip(req *http.Request) (*http.Response, error) {
	at, ceiling := time.Now(), 0
	if w.stats != nil {
		ceiling = w.stats().Ceiling
	}
	w.mu.Lock()
	w.admitted = append(w.admitted, admission{at: at, inFlight: w.inFlight, ceiling: ceiling})
	w.inFlight++
	w.mu.Unlock()
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
		now := time.Now()
		d := now.Sub(at)
		w.mu.Lock()
		w.lateMost = max(w.lateMost, d)
		if d > time.Millisecond {
			w.late1++
		}
		if d > 2*time.Millisecond {
			w.late2++
		}
		if d > 4*time.Millisecond {
			w.late4++
		}
		w.wrote = append(w.wrote, now)
		w.mu.Unlock()
	}}
	resp, err := w.base.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	w.mu.Lock()
	w.inFlight--
	w.mu.Unlock()
	return resp, err
}

// report says how the admissions were spaced: their span against n-1
// intervals of the limit, the time lost in gaps longer than an interval
// of sluice's pace and the lag it forgives (and, of that, in gaps whose
// admission found 4 or more others in flight), and the most in flight.
func (w *watcher) report(begin time.Time, limit int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := slices.SortedFunc(slices.Values(w.admitted), func(x, y admission) int { return x.at.Compare(y.at) })
	if len(a) < 2 {
		return "too few admissions"
	}
	span := a[len(a)-1].at.Sub(a[0].at)
	paced := time.Duration(len(a)-1) * time.Second / time.Duration(limit)
	var lost, lostBusy time.Duration
	most := 0
	hist, ceilings := map[int]int{}, map[int]int{}
	for k := 1; k < len(a); k++ {
		most = max(most, a[k].inFlight)
		hist[a[k].inFlight]++
		ceilings[a[k].ceiling]++
		if d := a[k].at.Sub(a[k-1].at) - pacedLull; d > 0 {
			lost += d
			if a[k].inFlight >= 4 {
				lostBusy += d
			}
		}
	}
	ats := make([]time.Time, len(a))
	for k := range a {
		ats[k] = a[k].at
	}
	return fmt.Sprintf("tightest %d admissions %v, writes %v; written >1ms after admission %d, >2ms %d, >4ms %d, at most %v; ", limit+1,
		tightestSpan(ats, limit+1).Round(100*time.Microsecond), tightestSpan(w.wrote, limit+1).Round(100*time.Microsecond),
		w.late1, w.late2, w.late4, w.lateMost.Round(10*time.Microsecond)) +
		fmt.Sprintf("admissions: first %v, span %v (%.4f× the limit's), lost in long gaps %v (%v with ≥4 in flight), in flight at admission %v, ceiling %v",
			a[0].at.Sub(begin).Round(10*time.Microsecond), span.Round(10*time.Microsecond), float64(span)/float64(paced),
			lost.Round(100*time.Microsecond), lostBusy.Round(100*time.Microsecond), hist, ceilings)
}
