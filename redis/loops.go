package redis

import (
	"context"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// listen wakes the gates whose release channel got a message. It ends
// when the subscription is closed (Close).
func (s *Store) listen(ps *goredis.PubSub) {
	defer s.wg.Done()
	prefix := s.tag() + ":"
	for msg := range ps.Channel() {
		// The channel is newKeys' released: tag:key:released.
		key, ok := strings.CutPrefix(msg.Channel, prefix)
		if !ok {
			continue
		}
		key, ok = strings.CutSuffix(key, ":released")
		if !ok {
			continue
		}
		s.mu.Lock()
		hit := s.gates[key]
		s.mu.Unlock()
		if hit != nil && hit.keys.released == msg.Channel {
			hit.notify()
		}
	}
}

// renewLoop renews the leases this process holds, and the horizon of its
// calls pending in a window (admit.lua), every third of their time to
// live, and at once when Redis is back after an outage, until
// Close. A renewal puts back the leases Redis lost (renew.lua); one that
// answers also tells that Redis is back, when admissions alone would not
// (nothing asked through Redis meanwhile).
//
// While Redis is down it also probes it every RetryEvery, as admissions
// do: found back by an admission alone, the first call after an outage
// was answered as the Mode says, and in Closed mode refused, however
// long Redis had been back (an outside review: a quiet proxy refused one
// client after each outage, which then waited 5 s).
func (s *Store) renewLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opt.LeaseTTL / 3)
	defer t.Stop()
	retry := time.NewTicker(s.opt.RetryEvery)
	defer retry.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-retry.C:
			if s.health.probeDue(s.opt.RetryEvery) {
				s.probe()
			}
			continue
		case <-t.C:
		case <-s.renewNow:
		}
		s.mu.Lock()
		gates := make([]*shared, 0, len(s.gates))
		for _, g := range s.gates {
			gates = append(gates, g)
		}
		s.mu.Unlock()
		for _, g := range gates {
			if err := g.renew(context.Background(), false); err != nil {
				g.down(err)
			}
		}
	}
}
