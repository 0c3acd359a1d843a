package batch

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice"
)

// A progress line is a function of one snapshot: every number on it is
// from the same moment, it never wraps the terminal, and a pause the API
// asked for is shown rather than an ETA of 0s.
func TestRenderBarFitsTheWidth(t *testing.T) {
	running := snapshot{Elapsed: 95 * time.Second, Total: 600, Done: 412, Failed: 3, Rate: 38.24, ETA: 5 * time.Second,
		InFlight: 5, Ceiling: 8, Throttled: 12, Learned: 50, Tokens: 34100, TokensOn: true}
	paused := running
	paused.Paused, paused.ETA = 11200*time.Millisecond, 16*time.Second
	unknown := snapshot{Total: -1, Done: 7, ETA: -1, InFlight: 2}
	tokens := snapshot{Total: 300, Done: 20, Rate: 1.96, ETA: 143 * time.Second, InFlight: 1, Ceiling: 8, Tokens: 5012, TokensOn: true, TokenCap: 20000}
	noTokens := running
	noTokens.TokensOn = false
	stopping := paused
	stopping.Stopping = true
	tests := []struct {
		name  string
		s     snapshot
		width int
		want  string
	}{
		{"running 40", running, 40, "412/600 68% · 38.2 items/s · ETA 5s"},
		{"paused 40", paused, 40, "412/600 68% · paused 12s (API asked)"},
		{"running 80", running, 80, "412/600 68% · 38.2 items/s · ETA 5s · 3 failed · 34.1k tokens/min"},
		{"no token limit 80", noTokens, 80, "412/600 68% · 38.2 items/s · ETA 5s · 3 failed · in flight 5 (limit 8)"},
		{"paused 80", paused, 80, "412/600 68% · paused 12s (API asked) · 38.2 items/s · ETA 16s · 3 failed"},
		{"running 200", running, 200, "[=============       ] 412/600 68% · 38.2 items/s · ETA 5s · 3 failed · 34.1k tokens/min · in flight 5 (limit 8) · 429s: 12 · API allows 50.0/s"},
		{"paused 200", paused, 200, "[=============       ] 412/600 68% · paused 12s (API asked) · 38.2 items/s · ETA 16s · 3 failed · 34.1k tokens/min · in flight 5 (limit 8) · 429s: 12 · API allows 50.0/s"},
		{"no total 80", unknown, 80, "7 done · 0.00 items/s · in flight 2"},
		{"tiny 10", running, 10, "412/600 6"},
		{"tokens 100", tokens, 100, "20/300 6% · 1.96 items/s · ETA 2m23s · 5.0k tokens/min (limit 20.0k) · in flight 1 (limit 8)"},
		{"tokens 120", tokens, 120, "[=                   ] 20/300 6% · 1.96 items/s · ETA 2m23s · 5.0k tokens/min (limit 20.0k) · in flight 1 (limit 8)"},
		{"stopping 80", stopping, 80, "412/600 68% · stopping: 5 in flight finishing"},
	}
	for _, tt := range tests {
		got := renderBar(tt.s, tt.width)
		if got != tt.want {
			t.Errorf("%s: renderBar =\n%q\nwant\n%q", tt.name, got, tt.want)
		}
		if n := utf8.RuneCountInString(got); n >= tt.width {
			t.Errorf("%s: %d columns at width %d: the terminal would wrap it", tt.name, n, tt.width)
		}
	}
}

// Log lines, when stderr is not a terminal, carry done/total, the
// percentage, the rate and the ETA, whatever the width.
func TestRenderLogCarriesTheEssentials(t *testing.T) {
	tests := []struct {
		name string
		s    snapshot
		want string
	}{
		{"running", snapshot{Elapsed: 95 * time.Second, Total: 600, Done: 412, Rate: 38.24, ETA: 5 * time.Second, InFlight: 5, Ceiling: 8},
			"sluice: 412/600 68%, 38.2 items/s, ETA 5s, in flight 5 (limit 8) (1m35s in)"},
		{"paused", snapshot{Elapsed: 3 * time.Second, Total: 600, Done: 12, Rate: 4, ETA: 2*time.Minute + 30*time.Second, Paused: 12 * time.Second, Throttled: 1},
			"sluice: 12/600 2%, paused 12s (API asked), 4.00 items/s, ETA 2m30s, in flight 0, 429s: 1 (3s in)"},
		{"nothing done yet", snapshot{Total: 600, ETA: -1},
			"sluice: 0/600 0%, 0.00 items/s, ETA unknown, in flight 0 (0s in)"},
		{"standard input", snapshot{Elapsed: time.Hour + 2*time.Minute, Total: -1, Done: 150000, Rate: 140.2, ETA: -1},
			"sluice: 150000 done, 140 items/s, in flight 0 (1h02m in)"},
	}
	for _, tt := range tests {
		if got := renderLog(tt.s); got != tt.want {
			t.Errorf("%s: renderLog =\n%q\nwant\n%q", tt.name, got, tt.want)
		}
	}
}

// The rate is smoothed, and held through a pause: the ETA after a
// Retry-After of 12s is the pause plus the work left at the earlier
// pace, not 0s and not a jump to infinity.
func TestEstimatorSmoothsAndHoldsThroughAPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var e estimator
		begin := time.Now()
		e.update(begin, 0, 0, false)
		done := int64(0)
		var rate float64
		for range 40 { // 10 s at 20 items/s
			time.Sleep(250 * time.Millisecond)
			done += 5
			rate, _ = e.update(time.Now(), done, 0, false)
		}
		if rate < 19.9 || rate > 20.1 {
			t.Fatalf("steady rate %.2f, want 20", rate)
		}
		for range 48 { // a 12 s pause: nothing finishes
			time.Sleep(250 * time.Millisecond)
			if got, _ := e.update(time.Now(), done, 0, true); got != rate {
				t.Fatalf("rate during a pause %.2f, want it held at %.2f", got, rate)
			}
		}
		// One burst of 40 items in 250ms after the pause moves the rate,
		// but smoothly: a tenth of the way at most.
		time.Sleep(250 * time.Millisecond)
		got, _ := e.update(time.Now(), done+40, 0, false)
		if got <= rate || got > rate+(160-rate)/10 {
			t.Errorf("rate after a burst %.2f, want a little above %.2f", got, rate)
		}
	})
}

// A pause the gate is in (a Retry-After) shows on the line, counting
// down, and the ETA counts it.
func TestSnapshotShowsTheGatePause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &plan{cfg: &Config{}, tr: &sluice.Transport{}}
		pr := &progress{p: p, c: &p.counts, begin: time.Now(), total: 100}
		pr.snapshot(time.Now())
		time.Sleep(time.Second)
		p.counts.succeeded.Add(10)
		s := pr.snapshot(time.Now())
		if s.Rate != 10 || s.ETA != 9*time.Second || s.Paused != 0 {
			t.Errorf("before the pause: rate %.2f, ETA %v, paused %v; want 10, 9s, 0", s.Rate, s.ETA, s.Paused)
		}
		p.tr.Gate("api").PauseUntil(time.Now().Add(12 * time.Second))
		time.Sleep(500 * time.Millisecond)
		s = pr.snapshot(time.Now())
		if s.Rate != 10 || s.Paused != 11500*time.Millisecond || s.ETA != s.Paused+9*time.Second {
			t.Errorf("paused: rate %.2f, ETA %v, paused %v; want 10, 20.5s, 11.5s", s.Rate, s.ETA, s.Paused)
		}
		if got, want := renderBar(s, 80), "10/100 10% · paused 12s (API asked) · 10.0 items/s · ETA 21s"; got != want {
			t.Errorf("paused line\n%q\nwant\n%q", got, want)
		}
		time.Sleep(12 * time.Second)
		if s = pr.snapshot(time.Now()); s.Paused != 0 || strings.Contains(renderBar(s, 80), "paused") {
			t.Errorf("after the pause: paused %v, line %q", s.Paused, renderBar(s, 80))
		}
	})
}

// A burst at the start (the first calls go at once, then the API's pace
// sets in) does not dominate the rate for long: twenty seconds in, the
// rate is near the pace, not near the burst (it gave an ETA of 24s for a
// run of 13 minutes).
func TestEstimatorForgetsTheStartingBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var e estimator
		e.update(time.Now(), 0, 0, false)
		time.Sleep(250 * time.Millisecond)
		e.update(time.Now(), 5, 0, false)
		done := int64(5)
		var rate float64
		for i := range 80 { // 20 s at 0.5 items/s
			time.Sleep(250 * time.Millisecond)
			if i%8 == 7 {
				done++
			}
			rate, _ = e.update(time.Now(), done, 0, false)
		}
		if rate < 0.5 || rate > 0.8 {
			t.Errorf("rate %.2f after a burst of 5 and 20s at 0.5/s; want 0.5 to 0.8", rate)
		}
	})
}
