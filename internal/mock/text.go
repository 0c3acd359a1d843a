package mock

import (
	"encoding/json"
	"strings"
)

// bytesPerToken is the estimate of prompt size: about four bytes of text a
// token, as the providers' own rules of thumb say.
const bytesPerToken = 4

// estimateTokens returns the tokens of a prompt of n bytes (at least one).
func estimateTokens(n int) int64 { return max(1, int64(n/bytesPerToken)) }

// promptBytes returns the bytes of text in a message content or system
// prompt: a string, or a list of blocks whose "text" counts and whose other
// kinds (images, tool calls) count by their JSON size.
func promptBytes(raw json.RawMessage) int {
	if len(raw) == 0 || string(raw) == "null" {
		return 0
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return len(s)
	}
	var blocks []json.RawMessage
	if json.Unmarshal(raw, &blocks) != nil {
		return len(raw)
	}
	n := 0
	for _, b := range blocks {
		var block struct {
			Text *string `json:"text"`
		}
		if json.Unmarshal(b, &block) == nil && block.Text != nil {
			n += len(*block.Text)
		} else {
			n += len(b)
		}
	}
	return n
}

// Output lengths are drawn between minOutput and min(max_tokens,
// maxOutput).
const (
	minOutput = 10
	maxOutput = 300
)

// drawOutput returns how many tokens the answer to a request allowing
// maxTokens will have; the answer stops at maxTokens when it reaches it.
func (s *Server) drawOutput(maxTokens int64) int64 {
	hi := min(maxTokens, maxOutput)
	lo := min(minOutput, hi)
	s.mu.Lock()
	defer s.mu.Unlock()
	return lo + s.contentRand.Int64N(hi-lo+1)
}

// vocabulary is what the mock's models say, one token a word.
var vocabulary = strings.Fields(`the water runs through a gate at an even pace and
no flood comes over river bank slow steady flow calm lock keeper opens closes
stream level rises falls boat waits sluice`)

// words returns n words of generated text.
func (s *Server) words(n int64) []string {
	w := make([]string, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range w {
		w[i] = vocabulary[s.contentRand.IntN(len(vocabulary))]
	}
	return w
}

// joinWords returns the text of generated words.
func joinWords(words []string) string { return strings.Join(words, " ") }

// wordsPerChunk is how many words each streamed delta carries.
const wordsPerChunk = 4

// chunks cuts words into the pieces of a stream: joined, they are
// strings.Join(words, " ").
func chunks(words []string) []string {
	var out []string
	for i := 0; i < len(words); i += wordsPerChunk {
		c := strings.Join(words[i:min(i+wordsPerChunk, len(words))], " ")
		if i > 0 {
			c = " " + c
		}
		out = append(out, c)
	}
	return out
}

// idAlphabet spells ids.
const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newID returns prefix and n characters unique to this server, drawn from
// a counter rather than the random generators so that ids do not change the
// answers a seed gives.
func (s *Server) newID(prefix string, n int) string {
	s.mu.Lock()
	s.ids++
	x := s.seed ^ s.ids*0x9e3779b97f4a7c15
	s.mu.Unlock()
	b := []byte(prefix)
	for range n {
		x = splitmix64(x)
		b = append(b, idAlphabet[x%uint64(len(idAlphabet))])
	}
	return string(b)
}

// splitmix64 is one step of the SplitMix64 generator: a cheap, well-mixed
// function of x.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
