package mcp

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"
)

// The states of a call.
const (
	stateRunning   = "running"
	stateDone      = "done"
	stateCanceled  = "canceled"    // by the cancel tool, or by the client
	stateOutOfTime = "out_of_time" // the time budget ran out first
)

// call is one fetch_many: its items' results, in input order, filled in
// as they finish. Safe for concurrent use.
type call struct {
	handle  string
	started time.Time
	cancel  context.CancelCauseFunc
	done    chan struct{} // closed when every item has its result

	mu       sync.Mutex
	results  []result
	finished int       // items with a result
	ok       int       // of which succeeded
	sent     int       // of which were sent and not stopped by the call's end
	ended    time.Time // when the last result came; zero while running
	state    string

	kept int64 // body bytes charged to the store; guarded by the store's lock
}

// result is one item's outcome. The zero result is an item not done yet.
type result struct {
	id, method, url string
	finished        bool
	ok              bool
	status          int
	contentType     string
	size            int64  // body bytes received (up to the cap)
	truncated       bool   // the body was longer than the cap: the rest was not read
	body            []byte // what is kept of it
	partial         bool   // the store was full: only the body's start is kept
	errClass        string
	err             string
	attempts        int
	elapsed         time.Duration
}

func newCall(handle string, items []pending, cancel context.CancelCauseFunc) *call {
	c := &call{handle: handle, started: time.Now(), cancel: cancel, done: make(chan struct{}), state: stateRunning}
	c.results = make([]result, len(items))
	for i, it := range items {
		c.results[i] = result{id: it.id, method: it.method, url: it.url}
	}
	if len(items) == 0 {
		c.ended = c.started
		c.state = stateDone
		close(c.done)
	}
	return c
}

// set records item i's result; the last one ends the call, in the state
// why says ("" for done).
func (c *call) set(i int, r result, why func() string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r.id, r.method, r.url, r.finished = c.results[i].id, c.results[i].method, c.results[i].url, true
	c.results[i] = r
	c.finished++
	if r.ok {
		c.ok++
	}
	if r.attempts > 0 && r.errClass != "canceled" && r.errClass != "out_of_time" && r.errClass != errSharedUnavailable {
		c.sent++ // sent and answered, or failed on its own
	}
	if c.finished == len(c.results) {
		c.ended = time.Now()
		c.state = stateDone
		if s := why(); s != "" {
			c.state = s
		}
		close(c.done)
	}
}

// Summary is a call's counts at one moment.
type Summary struct {
	Handle    string         `json:"handle" jsonschema:"names this call for get_results and cancel"`
	State     string         `json:"state" jsonschema:"running, done, canceled or out_of_time"`
	Total     int            `json:"total" jsonschema:"items in the call"`
	Succeeded int            `json:"succeeded" jsonschema:"items that got a 2xx response"`
	Failed    int            `json:"failed" jsonschema:"items that got another status or no response"`
	Pending   int            `json:"pending" jsonschema:"items not finished yet"`
	Elapsed   float64        `json:"elapsed_seconds" jsonschema:"seconds since the call started, until it ended"`
	Rate      float64        `json:"rate_per_second" jsonschema:"items sent per second of the elapsed time; items not valid, never sent, or stopped by cancel or the time budget do not count"`
	ByStatus  map[string]int `json:"by_status,omitempty" jsonschema:"items per HTTP status"`
	ByError   map[string]int `json:"by_error,omitempty" jsonschema:"failed items per error class"`
}

func (c *call) summary() Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.ended
	if end.IsZero() {
		end = time.Now()
	}
	s := Summary{
		Handle: c.handle, State: c.state, Total: len(c.results),
		Succeeded: c.ok, Failed: c.finished - c.ok, Pending: len(c.results) - c.finished,
		Elapsed: end.Sub(c.started).Seconds(),
	}
	if s.Elapsed > 0 {
		s.Rate = float64(c.sent) / s.Elapsed
	}
	for _, r := range c.results {
		if !r.finished {
			continue
		}
		if r.status != 0 {
			if s.ByStatus == nil {
				s.ByStatus = make(map[string]int)
			}
			s.ByStatus[strconv.Itoa(r.status)]++
		}
		if !r.ok {
			if s.ByError == nil {
				s.ByError = make(map[string]int)
			}
			s.ByError[r.errClass]++
		}
	}
	return s
}

// page returns the indices of up to limit results from offset, among
// those the filter keeps ("ok", "failed", or "" for all), and the offset
// of the next page, -1 when there is none.
//
// A filtered page reads only the finished head of the input, up to the
// first item not finished (held, its index; -1 when none held the page
// back): an item finishing before others in input order would shift the
// positions after it, and an agent following next_offset while the call
// ran missed some items and read others twice (outside review). The head
// only grows, so its positions stay put; next is where to go on, also
// when the page is not full.
func (c *call) page(offset, limit int, filter string) (idx []int, out []result, next, held int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := 0
	for i, r := range c.results {
		if filter != "" && !r.finished {
			return idx, out, seen, i
		}
		switch filter {
		case "ok":
			if !r.finished || !r.ok {
				continue
			}
		case "failed":
			if !r.finished || r.ok {
				continue
			}
		}
		if seen >= offset {
			if len(out) == limit {
				return idx, out, seen, -1
			}
			idx = append(idx, i)
			out = append(out, r)
		}
		seen++
	}
	return idx, out, -1, -1
}

// count returns how many results the filter keeps ("ok", "failed", or
// "" for all).
func (c *call) count(filter string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch filter {
	case "ok":
		return c.ok
	case "failed":
		return c.finished - c.ok
	}
	return len(c.results)
}

// sortedKeys returns m's keys in order, for text that reads the same on
// every call.
func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
