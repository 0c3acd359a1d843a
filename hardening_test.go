package sluice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// Regression tests for what a review of the hardened core found.

// A weight near MaxInt wrapped held+n around, so it "fit", and the
// semaphore then admitted anything.
func TestSemaphoreHugeWeightDoesNotWrapTheLimit(t *testing.T) {
	s := NewSemaphore(2)
	if !s.TryAcquire(1) {
		t.Fatal("first unit refused")
	}
	if s.TryAcquire(math.MaxInt) {
		t.Fatalf("TryAcquire(MaxInt) with 1 of 2 held succeeded; held %d", s.Held())
	}
	if s.TryAcquire(2) {
		t.Errorf("TryAcquire(2) with 1 of 2 held succeeded")
	}
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(NewSemaphore(2))
		p, _ := g.Acquire(t.Context(), Cost{})
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := g.Acquire(ctx, Cost{Requests: math.MaxInt}); err == nil {
			t.Fatal("a MaxInt weight was admitted beside a call in flight")
		}
		p.Done(Outcome{})
	})
}

// Input plus output tokens near MaxInt wrapped to a negative total, so the
// call was charged nothing. A Gate now refuses such a call as too large
// (toolarge.go); the budget itself, used alone, still charges it all.
func TestTokenTotalSaturatesInsteadOfWrapping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		huge := Cost{InputTokens: math.MaxInt, OutputTokens: math.MaxInt}
		g := NewGate(NewTokenBudget(PerMinute(1000), AllTokens))
		if _, err := g.Acquire(t.Context(), huge); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Acquire of MaxInt+MaxInt tokens: %v, want ErrTooLarge", err)
		}
		b := NewTokenBudget(PerMinute(1000), AllTokens)
		if wait, _ := b.Take(huge, time.Time{}, 0); wait != 0 {
			t.Fatalf("Take of MaxInt+MaxInt tokens on a full budget waits %v, want 0 (a debt)", wait)
		}
		if wait, _ := b.Take(Cost{InputTokens: 1000}, time.Time{}, 0); wait < time.Hour {
			t.Errorf("after a call of MaxInt+MaxInt tokens, 1000 more wait %v, want more than an hour", wait)
		}
	})
}

// One item that could not start before the run's deadline cancelled the
// whole run, items that could start in time included.
func TestPoolDeadlineRefusalKeepsTheItemsThatFit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(NewRateLimiter(PerSecond(10), 1))
		ctx, cancel := context.WithTimeout(t.Context(), 1050*time.Millisecond)
		defer cancel()
		p := &Pool[int, int]{Gate: g, Workers: 20}
		ok, canceled := 0, 0
		for r := range p.Run(ctx, slices.Values(make([]int, 40)), func(ctx context.Context, i int) (int, error) { return i, nil }) {
			switch {
			case r.Err == nil:
				ok++
			case r.Class == ClassCanceled:
				canceled++
			default:
				t.Errorf("item %d: %v (%v), want done or canceled", r.Index, r.Err, r.Class)
			}
		}
		// Starts at 0, 100ms, ... 1000ms: 11 fit before the deadline.
		if ok != 11 {
			t.Errorf("%d items done before a 1.05s deadline at 10/s, want 11 (%d canceled)", ok, canceled)
		}
	})
}

// The deadline prediction counted a call's max_tokens charge as spent,
// though settlement refunds what it did not use: a caller was refused at
// once that, without a deadline, was admitted 20ms later.
func TestGateDeadlinePredictionCountsRefundableTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(NewTokenBudget(PerMinute(10000), OutputTokens))
		p, err := g.Acquire(t.Context(), Cost{OutputTokens: 10000})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(20 * time.Millisecond)
			p.Done(Outcome{Usage: &Usage{OutputTokens: 100}})
		}()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		begin := time.Now()
		if _, err := g.Acquire(ctx, Cost{OutputTokens: 1000}); err != nil {
			t.Fatalf("refused (%v) a call the settlement 20ms later admits", err)
		}
		if got := time.Since(begin); got > 200*time.Millisecond {
			t.Errorf("admitted after %v, want just after the 20ms settlement", got)
		}
	})
}

// usageAPI answers every call with the given usage.
type usageAPI struct{ in, out int }

func (a usageAPI) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	body := fmt.Sprintf(`{"usage":{"input_tokens":%d,"output_tokens":%d}}`, a.in, a.out)
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

// A gate idle for a minute was forgotten with a token debt of four more
// minutes, and the host's next call went at once.
func TestTransportKeepsAGateThatOwesTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &Transport{Base: usageAPI{in: 150000, out: 1}, Limits: Limits{InputTokens: PerMinute(30000)}}
		client := &http.Client{Transport: tr}
		post := func(host string) time.Duration {
			begin := time.Now()
			resp, err := client.Post("http://"+host+"/v1/messages", "application/json",
				strings.NewReader(`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return time.Since(begin)
		}
		post("a") // settles at 150k input tokens: five minutes of the budget
		time.Sleep(61 * time.Second)
		for i := range 2 * minSweep { // new hosts, so that gates are swept
			post(fmt.Sprintf("h%d", i))
		}
		if d := post("a"); d < 2*time.Minute {
			t.Errorf("the next call to a went after %v; its gate owed about 4 minutes of tokens", d)
		}
	})
}

// sseAPI streams an Anthropic-style answer whose first event reports 1
// output token and whose last reports 7000.
type sseAPI struct{}

func (sseAPI) RoundTrip(req *http.Request) (*http.Response, error) {
	io.Copy(io.Discard, req.Body)
	req.Body.Close()
	body := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n" +
		strings.Repeat("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"xxxx\"}}\n\n", 2000) +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":7000}}\n\n"
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

// A stream closed after its first event was settled to the 1 output token
// that event reports, handing back thousands the API had charged.
func TestTransportEarlyCloseKeepsTheEstimate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &Transport{Base: sseAPI{}, Limits: Limits{OutputTokens: PerMinute(10000)}}
		client := &http.Client{Transport: tr}
		const req = `{"model":"m","max_tokens":8000,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
		resp, err := client.Post("http://a/v1/messages", "application/json", strings.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		io.ReadFull(resp.Body, make([]byte, 300)) // message_start, then the caller stops
		resp.Body.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		r, _ := http.NewRequestWithContext(ctx, "POST", "http://a/v1/messages", strings.NewReader(req))
		if resp, err := client.Do(r); err == nil {
			resp.Body.Close()
			t.Error("a second 8000-token call went at once: the early close refunded the first one's estimate")
		} else if !errors.Is(err, ErrWouldExceedDeadline) {
			t.Errorf("second call: %v, want a refusal for the deadline", err)
		}
	})
}
