package redis

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// With Redis hung (SIGSTOP), ending a call (Permit.Done: a response body
// read to EOF or closed) sent finish.lua on the caller's path and held it
// the whole call timeout, on every call (outside review). The release now
// goes off the caller's path, and is not sent while Redis is known down.
func TestEndingACallDoesNotWaitForAHungRedis(t *testing.T) {
	srv := startServer(t)
	st := newTestStore(t, srv.addr, uniquePrefix(t), Options{CallTimeout: time.Second, RetryEvery: time.Minute})
	g := sluice.Limits{Concurrency: 8, Tokens: sluice.PerMinute(100000), Store: st}.NewGate()
	var held []*sluice.Permit
	for range 4 {
		p, err := g.Acquire(context.Background(), sluice.Cost{InputTokens: 100})
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, p)
	}
	srv.pause()
	defer srv.resume()
	for i, p := range held {
		start := time.Now()
		p.Done(sluice.Outcome{Usage: &sluice.Usage{InputTokens: 50}})
		if d := time.Since(start); d > 300*time.Millisecond {
			t.Errorf("call %d: Done took %v with Redis hung; want it off the caller's path", i, d)
		}
	}
}
