// Package demo sends one batch to a rate-limited mock API twice, naively
// and through sluice, and reports the two side by side: what a newcomer
// runs first to see what sluice is for.
package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/mock"
)

// Config is one demo run. The zero Config is not valid; start from
// Default.
type Config struct {
	Requests    int          // how many calls each side sends
	Rate        mock.Limit   // the mock's request limit
	Concurrency int          // the mock's concurrency limit
	Latency     mock.Latency // the mock's response time
	// Progress, if set, is told after every finished call of a side, one
	// call at a time.
	Progress func(side string, done, failed, total int)
}

// Default returns the demo's standard settings: 300 calls against an API
// allowing 20 a second and 5 at once, answering in 200ms±100ms.
func Default() Config {
	lat, _ := mock.ParseLatency("200ms±100ms")
	return Config{Requests: 300, Rate: mock.Limit{N: 20, Per: time.Second}, Concurrency: 5, Latency: lat}
}

// Side is what one way of sending the batch achieved.
type Side struct {
	Name            string
	Succeeded       int
	Failed          int
	Throttled       int64 // 429s the API sent
	PeakConnections int64 // the most connections open to the API at once
	PeakConcurrency int64 // the most calls the API let through at once
	Elapsed         time.Duration
}

// Report is a finished demo.
type Report struct {
	Config  Config
	Minimum time.Duration // the physical minimum for the batch
	Naive   Side
	Sluice  Side
}

// Minimum returns the least time the batch can take against these limits:
// the rate bound or the concurrency bound, whichever is larger.
func (c Config) Minimum() time.Duration {
	var byRate time.Duration
	if c.Rate.N > 0 {
		byRate = time.Duration(float64(c.Requests) / c.Rate.N * float64(c.Rate.Per))
	}
	var byConcurrency time.Duration
	if c.Concurrency > 0 {
		byConcurrency = time.Duration(c.Requests) * c.Latency.Mean() / time.Duration(c.Concurrency)
	}
	return max(byRate, byConcurrency)
}

// Run sends the batch both ways, each against a fresh mock, and reports.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Requests < 1 {
		return Report{}, fmt.Errorf("demo: requests must be at least 1, not %d", cfg.Requests)
	}
	r := Report{Config: cfg, Minimum: cfg.Minimum()}
	var err error
	if r.Naive, err = side(ctx, cfg, "naive", naiveClient()); err != nil {
		return r, err
	}
	tr := &sluice.Transport{} // nothing given: learned from the API's headers
	defer tr.CloseIdleConnections()
	if r.Sluice, err = side(ctx, cfg, "sluice", &http.Client{Transport: tr}); err != nil {
		return r, err
	}
	return r, nil
}

// side sends the batch with client, a goroutine per call, against a fresh
// mock, and measures it.
func side(ctx context.Context, cfg Config, name string, client *http.Client) (Side, error) {
	api, err := mock.Start(mock.Config{
		Style:       mock.Anthropic,
		Requests:    cfg.Rate,
		Concurrency: cfg.Concurrency,
		Latency:     cfg.Latency,
		Seed:        1,
	})
	if err != nil {
		return Side{}, err
	}
	defer api.Close()

	var done, failed atomic.Int64
	var progressMu sync.Mutex
	begin := time.Now()
	var wg sync.WaitGroup
	for i := range cfg.Requests {
		wg.Go(func() {
			ok := call(ctx, client, api.URL(), i)
			if !ok {
				failed.Add(1)
			}
			d := done.Add(1)
			if cfg.Progress != nil {
				progressMu.Lock()
				cfg.Progress(name, int(d), int(failed.Load()), cfg.Requests)
				progressMu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Side{}, err
	}
	s := api.Stats()
	return Side{
		Name:            name,
		Succeeded:       cfg.Requests - int(failed.Load()),
		Failed:          int(failed.Load()),
		Throttled:       s.ThrottledTotal(),
		PeakConnections: s.PeakConnections,
		PeakConcurrency: s.PeakConcurrency,
		Elapsed:         time.Since(begin),
	}, nil
}

// call sends one Messages API request and reports whether it succeeded.
func call(ctx context.Context, client *http.Client, base string, i int) bool {
	body := fmt.Sprintf(`{"model":"claude-demo","max_tokens":64,"messages":[{"role":"user","content":"Summarise document %d in one line."}]}`, i)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/messages", bytes.NewReader([]byte(body)))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", "demo")
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// naiveClient is what most programs do: a plain client with the official
// SDKs' default of 2 retries, honouring Retry-After, with no shared limit.
func naiveClient() *http.Client {
	return &http.Client{Transport: &sdkRetries{base: http.DefaultTransport.(*http.Transport).Clone(), retries: 2}}
}

// sdkRetries retries like the Anthropic and OpenAI SDKs by default: 408,
// 409, 429 and 5xx, up to retries times, waiting Retry-After when given
// and 0.5s doubling (with jitter, at most 8s) otherwise.
type sdkRetries struct {
	base    http.RoundTripper
	retries int
}

func (s *sdkRetries) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		r := req.Clone(req.Context())
		if req.GetBody != nil {
			r.Body, _ = req.GetBody()
		}
		resp, err := s.base.RoundTrip(r)
		retry := err != nil || resp.StatusCode == 408 || resp.StatusCode == 409 || resp.StatusCode == 429 || resp.StatusCode >= 500
		if !retry || attempt >= s.retries {
			return resp, err
		}
		wait := time.Duration(float64(500*time.Millisecond) * math.Pow(2, float64(attempt)) * (0.75 + rand.Float64()/4))
		if resp != nil {
			if secs, err := strconv.ParseFloat(resp.Header.Get("Retry-After"), 64); err == nil && secs >= 0 && secs <= 60 {
				wait = time.Duration(secs * float64(time.Second))
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		select {
		case <-time.After(min(wait, 8*time.Second)):
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
}
