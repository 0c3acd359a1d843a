package redis

import (
	"context"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// probeScript is the cheapest script Redis can run: answering it shows
// that the server is there and runs scripts, which is all admissions
// need of it.
var probeScript = goredis.NewScript("return 1")

// probe asks Redis, once and in the background, whether it answers
// again. While Redis is down admissions are the Mode's to answer; a
// probe made in line held the admission that made it for a whole call
// timeout when Redis was silent (a partition, a dropped route), and with
// it every call queued behind it in the gate: a run paced at 20/s got
// about 5/s. The probe is owned by the Store: Close waits for it.
func (s *Store) probe() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.health.probed()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		var watch sync.WaitGroup
		watch.Go(func() { // Close cuts a probe short
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		})
		_, err := s.run(ctx, probeScript, nil)
		closing := ctx.Err() != nil
		cancel()
		watch.Wait()
		s.health.probed()
		switch {
		case err == nil:
			s.up(0)
		case !closing:
			s.down(err) // keeps the latest error for Closed mode's answer
		}
	}()
}
