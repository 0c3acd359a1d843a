package mcp

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// store keeps the calls so that their results can be read after the
// fetch_many that made them returned. It is bounded twice: a finished
// call is forgotten StoreTTL after it ended, and when the bodies kept
// would pass StoreBytes the oldest finished calls are forgotten first.
// Running calls are never forgotten (their own time budget bounds them);
// a body that still does not fit is kept only in part. Safe for
// concurrent use; lock order: the store's, then a call's.
type store struct {
	ttl time.Duration
	max int64

	mu    sync.Mutex
	total int64
	calls map[string]*call
	order []*call // oldest first
	seq   int
}

func newStore(ttl time.Duration, maxBytes int64) *store {
	return &store{ttl: ttl, max: maxBytes, calls: make(map[string]*call)}
}

// add makes and keeps a call of items.
func (s *store) add(items []pending, cancel context.CancelCauseFunc) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep()
	s.seq++
	c := newCall("f"+strconv.Itoa(s.seq), items, cancel)
	s.calls[c.handle] = c
	s.order = append(s.order, c)
	// The results themselves count too, so that many calls of empty
	// bodies are bounded as well.
	for _, it := range items {
		c.kept += itemOverhead + int64(len(it.id)+len(it.url))
	}
	s.total += c.kept
	return c
}

// itemOverhead is about what one item's result costs besides its body
// and the strings it names.
const itemOverhead = 256

// get returns the call handle names.
func (s *store) get(handle string) (*call, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep()
	c, ok := s.calls[handle]
	if !ok {
		return nil, fmt.Errorf("no call has the handle %q (results are kept for %v after a call ends, and the oldest are forgotten when they pass %s)", handle, s.ttl, byteCount(s.max))
	}
	return c, nil
}

// reserve charges n bytes of body to c, forgetting the oldest finished
// calls other than c to make room; it reports false, charging nothing,
// when there is no room even so.
func (s *store) reserve(c *call, n int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep()
	for i := 0; s.total+n > s.max && i < len(s.order); {
		old := s.order[i]
		if old == c || old.running() {
			i++
			continue
		}
		s.forget(i)
	}
	if s.total+n > s.max {
		return false
	}
	s.total += n
	c.kept += n
	return true
}

// sweep forgets the calls that ended more than ttl ago.
func (s *store) sweep() {
	now := time.Now()
	for i := 0; i < len(s.order); {
		if end := s.order[i].endedAt(); !end.IsZero() && now.Sub(end) > s.ttl {
			s.forget(i)
			continue
		}
		i++
	}
}

func (s *store) forget(i int) {
	c := s.order[i]
	s.total -= c.kept
	delete(s.calls, c.handle)
	s.order = append(s.order[:i], s.order[i+1:]...)
}

func (c *call) running() bool { return c.endedAt().IsZero() }

func (c *call) endedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended
}

// byteCount writes n bytes for people: 512 B, 1.5 KiB, 256 MiB.
func byteCount(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	s := strconv.FormatFloat(v, 'f', 1, 64)
	if v == float64(int64(v)) {
		s = strconv.FormatInt(int64(v), 10)
	}
	return s + " " + string("KMGTPE"[exp]) + "iB"
}
