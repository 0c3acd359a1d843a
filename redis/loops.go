package redis

import (
	"context"
	"strconv"
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

// renewLoop renews the leases this process holds every third of their
// time to live, until Close.
func (s *Store) renewLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opt.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		gates := make([]*shared, 0, len(s.gates))
		for _, g := range s.gates {
			gates = append(gates, g)
		}
		s.mu.Unlock()
		for _, g := range gates {
			members := g.leaseMembers()
			if len(members) == 0 {
				continue
			}
			args := append([]any{int64(s.opt.LeaseTTL / time.Microsecond), s.epoch, s.proc + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)}, members...)
			v, err := s.run(context.Background(), renewScript, []string{g.keys.leases, s.tag() + ":epoch"}, args...)
			if err != nil {
				g.down(err)
				continue
			}
			if r, ok := v.([]any); ok && len(r) == 2 {
				if e, ok := r[1].(string); ok {
					s.epoch = e // read and written by this loop alone
				}
			}
		}
	}
}
