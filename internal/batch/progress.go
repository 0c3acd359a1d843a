package batch

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/sluicehq/sluice/internal/input"
)

// counts are the run's running totals, shared with the progress display.
type counts struct {
	read, resumed, bad, succeeded, failed atomic.Int64
	repeated                              atomic.Int64 // urls lines repeating an earlier URL
	tokens                                atomic.Int64 // usage reported for the succeeded items
}

// progress shows a run as it goes: one line kept in place on a terminal,
// a log line every few seconds otherwise, or nothing.
//
// The line is drawn here rather than by a progress-bar library (the
// project's habit is to reach for one): the bar library kept its own count,
// rate and ETA, refreshed on its own throttle, so a line mixed numbers
// from different moments and its units flipped between /s, /min and /hr;
// and its description could not be fitted to the terminal, so the line
// wrapped, leaving a new line on screen every 250 ms. Here every number
// comes from one snapshot and the line is cut to the terminal's width.
type progress struct {
	p        *plan
	c        *counts
	w        io.Writer
	tty      *os.File // the terminal drawn on; nil for log lines
	every    time.Duration
	begin    time.Time
	total    int64   // lines in the input, -1 when unknown
	tok      bool    // token limits are set: show tokens per minute
	tokOf    float64 // the token limit per minute shown beside them; 0 for none
	est      estimator
	quit     chan struct{}
	stopping <-chan struct{} // closed when the run stops admitting: an interrupt, an exhausted quota
	wg       sync.WaitGroup
	once     sync.Once
}

func newProgress(cfg *Config, p *plan, c *counts, total int64, stopping <-chan struct{}) *progress {
	if total > 0 && p.reader != nil && p.reader.Format() == input.FormatCSV {
		total-- // the header line
	}
	l := cfg.Limits
	pr := &progress{p: p, c: c, w: p.stderr, begin: time.Now(), total: total, quit: make(chan struct{}),
		tok: !l.Tokens.IsZero() || !l.InputTokens.IsZero() || !l.OutputTokens.IsZero(), tokOf: l.Tokens.PerSec() * 60}
	pr.stopping = stopping
	pr.est.at = pr.begin // measured from the start: items done before the first line count
	f, _ := cfg.Stderr.(*os.File)
	if f != nil && !term.IsTerminal(int(f.Fd())) {
		f = nil
	}
	mode := cfg.Progress
	if mode == "" || mode == "auto" {
		mode = "log"
		if f != nil {
			mode = "bar"
		}
	}
	switch mode {
	case "none":
		return pr
	case "bar":
		pr.tty, pr.every = f, 250*time.Millisecond // no terminal to size it by: 80 columns
	default:
		pr.every = 5 * time.Second
	}
	pr.wg.Add(1)
	go pr.loop(mode == "bar")
	return pr
}

func (pr *progress) loop(bar bool) {
	defer pr.wg.Done()
	t := time.NewTicker(pr.every)
	defer t.Stop()
	for {
		select {
		case <-pr.quit:
			if bar {
				io.WriteString(pr.w, "\r\x1b[K") // the summary follows on a clean line
			}
			return
		case <-t.C:
			s := pr.snapshot(time.Now())
			if bar {
				io.WriteString(pr.w, "\r"+renderBar(s, pr.width())+"\x1b[K")
			} else {
				io.WriteString(pr.w, renderLog(s)+"\n")
			}
		}
	}
}

// width is the terminal's width now (it may have been resized), 80 when
// it cannot be known.
func (pr *progress) width() int {
	if pr.tty != nil {
		if w, _, err := term.GetSize(int(pr.tty.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return 80
}

func (pr *progress) stop() {
	pr.once.Do(func() {
		close(pr.quit)
		pr.wg.Wait()
	})
}

// snapshot is everything one progress line shows, read at one moment:
// the line is a pure function of it.
type snapshot struct {
	Elapsed   time.Duration
	Total     int64 // items in the input, -1 when unknown
	Done      int64 // items accounted for: succeeded, failed, skipped or bad
	Failed    int64
	Rate      float64       // items finished per second, smoothed
	ETA       time.Duration // -1 when unknown
	InFlight  int64
	Ceiling   int           // the concurrency limit now; 0 for none
	Throttled int64         // 429s so far
	Paused    time.Duration // left of the pause the API asked for; 0 when none
	Learned   float64       // requests per second the API's headers allow; 0 when unknown
	Tokens    float64       // tokens per minute, smoothed; shown when TokensOn
	TokensOn  bool
	TokenCap  float64 // the token limit per minute (--tokens); 0 for none
	Stopping  bool    // no new calls: those in flight are finishing
}

// snapshot reads the counters once and updates the smoothed rates.
func (pr *progress) snapshot(now time.Time) snapshot {
	st := pr.p.stats()
	succeeded, failed := pr.c.succeeded.Load(), pr.c.failed.Load()
	s := snapshot{
		Elapsed: now.Sub(pr.begin), Total: pr.total,
		Done: succeeded + failed + pr.c.resumed.Load() + pr.c.bad.Load(), Failed: failed,
		InFlight: st.InFlight, Ceiling: st.Ceiling, Throttled: st.Throttled,
		Learned: st.Learned.PerSec(), TokensOn: pr.tok, TokenCap: pr.tokOf,
	}
	select {
	case <-pr.stopping:
		s.Stopping = true
	default:
	}
	if s.Total >= 0 && s.Done > s.Total {
		s.Total = s.Done // a last line without a newline
	}
	if !st.PausedUntil.IsZero() {
		s.Paused = max(st.PausedUntil.Sub(now), 0)
	}
	s.Rate, s.Tokens = pr.est.update(now, succeeded+failed, pr.c.tokens.Load(), s.Paused > 0)
	s.Tokens *= 60
	s.ETA = -1
	if s.Total >= 0 && s.Rate > 0 {
		s.ETA = s.Paused + time.Duration(float64(s.Total-s.Done)/s.Rate*float64(time.Second))
	}
	return s
}

// estimator smooths the rates: items (and tokens) finished over time,
// both sums decaying with time constant rateTau, so that the rate is that
// of about the last rateTau and the ETA drifts rather than jumps. Each
// stretch of time weighs as much as it lasted: the burst of the first
// quarter second does not count as if it had been the last ten seconds,
// as in a plain moving average of per-tick rates. During a pause the
// sums are held (while nothing finishes): the API asked for the wait, the pace after it will be
// the one before, and the ETA adds the pause.
type estimator struct {
	at            time.Time
	done, toks    int64
	items, tokens float64 // decayed sums
	seconds       float64 // decayed time
}

const rateTau = 15 * time.Second

func (e *estimator) update(now time.Time, done, toks int64, paused bool) (rate, tokRate float64) {
	if e.at.IsZero() {
		e.at = now
	}
	dt := now.Sub(e.at).Seconds()
	// Items finished since the last line count even when a pause has
	// begun since: part of that stretch was active.
	if dt > 0 && (!paused || done > e.done) {
		keep := math.Exp(-dt / rateTau.Seconds())
		e.items = e.items*keep + float64(done-e.done)
		e.tokens = e.tokens*keep + float64(toks-e.toks)
		e.seconds = e.seconds*keep + dt
	}
	e.at, e.done, e.toks = now, done, toks
	if e.seconds == 0 {
		return 0, 0
	}
	return e.items / e.seconds, e.tokens / e.seconds
}

// renderBar is the terminal line for s, at most width-1 columns (the last
// column would make some terminals wrap). Less important parts are left
// out as the width shrinks; the bar takes what is left.
func renderBar(s snapshot, width int) string {
	width--
	// A bar only where it leaves the numbers room, always the same size:
	// a layout that changes from one line to the next is hard to read.
	bar := ""
	if s.Total > 0 && width >= 100 {
		const cells = 20
		fill := int(cells * s.Done / s.Total)
		bar = "[" + strings.Repeat("=", fill) + strings.Repeat(" ", cells-fill) + "] "
		width -= len(bar)
	}
	parts := s.parts(false)
	// Drop parts from the least important end until the line fits.
	line := strings.Join(parts, " · ")
	for len(parts) > 1 && utf8.RuneCountInString(line) > width {
		parts = parts[:len(parts)-1]
		line = strings.Join(parts, " · ")
	}
	if r := []rune(line); len(r) > width {
		line = string(r[:max(width, 0)])
	}
	return bar + line
}

// parts are the line's pieces, most important first.
// A log line says "ETA unknown" rather than leave it out: a reader of a
// log cannot tell a missing part from one never shown.
func (s snapshot) parts(log bool) []string {
	var p []string
	count := fmt.Sprintf("%d done", s.Done)
	if s.Total >= 0 {
		count = fmt.Sprintf("%d/%d %s", s.Done, s.Total, percent(s.Done, s.Total))
	}
	p = append(p, count)
	if s.Stopping {
		return append(p, fmt.Sprintf("stopping: %d in flight finishing", s.InFlight))
	}
	if s.Paused > 0 {
		p = append(p, fmt.Sprintf("paused %s (API asked)", ceilSeconds(s.Paused)))
	}
	p = append(p, perSecond(s.Rate)+" items/s")
	switch {
	case s.ETA >= 0:
		p = append(p, "ETA "+duration(s.ETA))
	case log && s.Total >= 0:
		p = append(p, "ETA unknown")
	}
	if s.Failed > 0 {
		p = append(p, fmt.Sprintf("%d failed", s.Failed))
	}
	// With a token limit, tokens are what paces the run: before the
	// calls in flight.
	switch {
	case s.TokensOn && s.TokenCap > 0:
		p = append(p, fmt.Sprintf("%s tokens/min (limit %s)", si(s.Tokens), si(s.TokenCap)))
	case s.TokensOn:
		p = append(p, si(s.Tokens)+" tokens/min")
	}
	if s.Ceiling > 0 {
		p = append(p, fmt.Sprintf("in flight %d (limit %d)", s.InFlight, s.Ceiling))
	} else {
		p = append(p, fmt.Sprintf("in flight %d", s.InFlight))
	}
	if s.Throttled > 0 {
		p = append(p, fmt.Sprintf("429s: %d", s.Throttled))
	}
	if s.Learned > 0 {
		p = append(p, "API allows "+perSecond(s.Learned)+"/s")
	}
	return p
}

// renderLog is the line logged every few seconds when stderr is not a
// terminal: every part, "sluice:" first.
func renderLog(s snapshot) string {
	p := s.parts(true)
	return "sluice: " + strings.Join(p, ", ") + " (" + duration(s.Elapsed) + " in)"
}

func percent(done, total int64) string {
	if total <= 0 {
		return "100%"
	}
	return fmt.Sprintf("%d%%", done*100/total)
}

// perSecond formats a rate with its precision fitted to its size, the unit
// always per second.
func perSecond(r float64) string {
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

// si is n with a k or M suffix.
func si(n float64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", n/1e3)
	}
	return fmt.Sprintf("%.0f", n)
}

// ceilSeconds is d in whole seconds, rounded up: a pause of 0.4s left
// shows as 1s, never 0s.
func ceilSeconds(d time.Duration) string {
	return fmt.Sprintf("%ds", int64((d+time.Second-1)/time.Second))
}

// duration is d as "42s", "3m05s" or "2h07m".
func duration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}
