package batch

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// counts are the run's running totals, shared with the progress display.
type counts struct {
	read, resumed, bad, succeeded, failed atomic.Int64
}

// progress shows a run as it goes: a bar on a terminal, a log line every
// few seconds otherwise, or nothing.
type progress struct {
	p      *plan
	c      *counts
	w      io.Writer
	bar    *progressbar.ProgressBar
	every  time.Duration
	begin  time.Time
	quit   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
}

func newProgress(cfg *Config, p *plan, c *counts, total int64) *progress {
	pr := &progress{p: p, c: c, w: p.stderr, begin: time.Now(), quit: make(chan struct{})}
	mode := cfg.Progress
	if mode == "" || mode == "auto" {
		mode = "log"
		if f, ok := cfg.Stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = "bar"
		}
	}
	switch mode {
	case "none":
		return pr
	case "bar":
		pr.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(p.stderr),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("calls"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(24),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		pr.every = 250 * time.Millisecond
	default:
		pr.every = 5 * time.Second
	}
	pr.wg.Add(1)
	go pr.loop()
	return pr
}

func (pr *progress) loop() {
	defer pr.wg.Done()
	t := time.NewTicker(pr.every)
	defer t.Stop()
	for {
		select {
		case <-pr.quit:
			return
		case <-t.C:
			pr.show()
		}
	}
}

func (pr *progress) show() {
	st := pr.p.stats()
	done := pr.c.succeeded.Load() + pr.c.failed.Load()
	line := fmt.Sprintf("%d done (%d failed), %d in flight, ceiling %d, %d throttled", done, pr.c.failed.Load(), st.InFlight, st.Ceiling, st.Throttled)
	if pr.bar != nil {
		pr.bar.Describe(line)
		pr.bar.Set64(done)
		return
	}
	elapsed := time.Since(pr.begin)
	fmt.Fprintf(pr.w, "sluice: %s; %.1f/s over %v\n", line, float64(done)/elapsed.Seconds(), elapsed.Round(time.Second))
}

func (pr *progress) stop() {
	pr.closed.Do(func() {
		close(pr.quit)
		pr.wg.Wait()
		if pr.bar != nil {
			pr.bar.Finish()
		}
	})
}
