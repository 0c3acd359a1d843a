package sluice

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"
)

// sampleSize is how much of each end of a body bodySample keeps.
const sampleSize = 32 << 10

// bodySample keeps the first and the last sampleSize bytes of a body as
// it streams past, so that usage can be read from it without buffering it.
// It is safe for concurrent use: a stream is aborted by closing its body
// from another goroutine while it is being read, so parts may run while a
// Read is writing; what is written after parts is ignored.
type bodySample struct {
	mu    sync.Mutex
	taken bool // parts was called: the sample is no longer written
	head  []byte
	tail  []byte // the last bytes seen, at most 2×sampleSize before trimming
}

func (s *bodySample) write(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.taken {
		return
	}
	if room := sampleSize - len(s.head); room > 0 {
		s.head = append(s.head, p[:min(room, len(p))]...)
	}
	s.tail = append(s.tail, p...)
	if len(s.tail) > 2*sampleSize {
		s.tail = append(s.tail[:0], s.tail[len(s.tail)-sampleSize:]...)
	}
}

// parts returns the head and the last sampleSize bytes, and stops the
// sample: the slices are the caller's from then on.
func (s *bodySample) parts() (head, tail []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.taken = true
	tail = s.tail
	if len(tail) > sampleSize {
		tail = tail[len(tail)-sampleSize:]
	}
	return s.head, tail
}

// ScanUsage finds the token usage in the head and tail of an Anthropic or
// OpenAI response, JSON or a server-sent event stream, without decoding
// it: the last "input_tokens" or "prompt_tokens" (with Anthropic's
// "cache_creation_input_tokens", which its input limit counts too), and
// the last "output_tokens" or "completion_tokens" (streams report a
// running count, so the last is the total). It returns nil when neither
// is found. Its signature fits Transport.Usage.
func ScanUsage(_ *http.Response, head, tail []byte) *Usage {
	in, inOK := lastNumber(head, tail, `"input_tokens"`, `"prompt_tokens"`)
	out, outOK := lastNumber(head, tail, `"output_tokens"`, `"completion_tokens"`)
	if !inOK && !outOK {
		return nil
	}
	// Anthropic counts a prompt-cache write against its input token
	// limit, apart from input_tokens; a cache read it does not count (on
	// its current models). OpenAI's prompt_tokens include cached ones.
	if written, ok := lastNumber(head, tail, `"cache_creation_input_tokens"`); ok && inOK {
		in += written
	}
	return &Usage{InputTokens: in, OutputTokens: out}
}

// lastNumber returns the number after the last of the keys in tail, or
// else in head.
func lastNumber(head, tail []byte, keys ...string) (int, bool) {
	for _, b := range [][]byte{tail, head} {
		best, at := 0, -1
		for _, k := range keys {
			i := bytes.LastIndex(b, []byte(k))
			if i <= at {
				continue
			}
			if n, ok := numberAfter(b[i+len(k):]); ok {
				best, at = n, i
			}
		}
		if at >= 0 {
			return best, true
		}
	}
	return 0, false
}

// numberAfter reads `: 123` at the start of b.
func numberAfter(b []byte) (int, bool) {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != ':' {
		return 0, false
	}
	b = bytes.TrimLeft(b[1:], " \t\r\n")
	end := 0
	for end < len(b) && end < 12 && b[end] >= '0' && b[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(string(b[:end]))
	return n, err == nil
}
