package sluice

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// A retry waiting out its backoff ends as soon as its gate is halted,
// with the halt's error: a proxy stopping, or a run interrupted, or a
// quota exhausted by another call, must not wait for a Retry-After of
// minutes (the proxy's clients saw their connections closed instead of
// its answer).
func TestRetryBackoffEndsWhenTheGateHalts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := Limits{Concurrency: 1}.NewGate()
		stopping := errors.New("stopping")
		calls := 0
		begin := time.Now()
		done := make(chan error, 1)
		go func() {
			// Full jitter up to 100 hours: under 2 s once in 180,000 runs.
			policy := RetryPolicy{Backoff: Backoff{Base: 100 * time.Hour, Cap: 100 * time.Hour}}
			_, _, err := policy.Do(context.Background(), g, Cost{}, func(context.Context) (Outcome, error) {
				calls++
				return Outcome{Class: ClassTransient}, &StatusError{Status: 502, Class: ClassTransient}
			})
			done <- err
		}()
		synctest.Wait() // the first attempt made, the retry waiting out its backoff
		g.Halt(stopping)
		err := <-done
		if !errors.Is(err, stopping) {
			t.Errorf("Do ended with %v; want the halt's error", err)
		}
		if took := time.Since(begin); took > 2*time.Second {
			t.Errorf("Do ended %v after it began; want at once when the gate halted", took)
		}
		if calls != 1 {
			t.Errorf("%d attempts; want 1", calls)
		}
	})
}

// A retry whose backoff would end after the caller's deadline is not
// slept out: the caller gets the last answer at once, rather than its
// own timeout after waiting it out (outside review), as a Gate refuses
// at once a wait it knows would outlast the deadline.
func TestRetryBackoffPastTheDeadlineEndsWithTheLastAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := Limits{Concurrency: 1}.NewGate()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		// Full jitter up to 100 hours: under 2 s once in 180,000 runs.
		policy := RetryPolicy{Backoff: Backoff{Base: 100 * time.Hour, Cap: 100 * time.Hour}}
		begin := time.Now()
		calls := 0
		_, attempts, err := policy.Do(ctx, g, Cost{}, func(context.Context) (Outcome, error) {
			calls++
			return Outcome{Class: ClassOverloaded}, &StatusError{Status: 503, Class: ClassOverloaded}
		})
		var se *StatusError
		if !errors.As(err, &se) || se.Status != 503 {
			t.Errorf("Do ended with %v; want the last answer, the 503", err)
		}
		if took := time.Since(begin); took != 0 {
			t.Errorf("Do ended %v after it began; want at once", took)
		}
		if calls != 1 || attempts != 1 {
			t.Errorf("%d calls, %d attempts; want 1", calls, attempts)
		}
	})
}
