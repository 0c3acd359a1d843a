package mock

import (
	"encoding/json"
	"time"
)

// sse writes server-sent events through a reply, flushing each one. A slow
// body's extra time is spread evenly before the events.
type sse struct {
	p    *reply
	wait time.Duration
}

// startSSE sends the 200 header of an event stream that will carry about
// events events.
func startSSE(p *reply, events int) *sse {
	p.w.Header().Set("Cache-Control", "no-cache")
	p.start("text/event-stream")
	p.flush()
	return &sse{p: p, wait: p.slow / time.Duration(max(events, 1))}
}

// send writes one event, named unless event is "", with data as JSON. It
// reports false once the client has gone away.
func (e *sse) send(event string, data any) bool {
	b, _ := json.Marshal(data)
	return e.sendRaw(event, b)
}

func (e *sse) sendRaw(event string, data []byte) bool {
	if !e.p.pause(e.wait) {
		return false
	}
	var buf []byte
	if event != "" {
		buf = append(buf, "event: "...)
		buf = append(buf, event...)
		buf = append(buf, '\n')
	}
	buf = append(buf, "data: "...)
	buf = append(buf, data...)
	buf = append(buf, "\n\n"...)
	if _, err := e.p.w.Write(buf); err != nil {
		return false
	}
	e.p.flush()
	return true
}

// generate waits for the model to produce a chunk of n tokens.
func (e *sse) generate(n int) bool {
	return e.p.pause(e.p.generation(int64(n)))
}

// stream answers a Messages API request with "stream": true: message_start,
// content_block_start, ping, content_block_delta (one per chunk of words,
// paced by the output rate), content_block_stop, message_delta with the
// stop reason and output tokens, message_stop.
func (a anthropicAPI) stream(p *reply, msg anthropicMessage, words []string) {
	pieces := chunks(words)
	e := startSSE(p, len(pieces)+6)

	start := msg
	start.Content = []anthropicBlock{}
	start.StopReason = nil
	start.Usage.OutputTokens = 1
	type obj = map[string]any
	if !e.send("message_start", obj{"type": "message_start", "message": start}) ||
		!e.send("content_block_start", obj{"type": "content_block_start", "index": 0, "content_block": anthropicBlock{Type: "text"}}) ||
		!e.send("ping", obj{"type": "ping"}) {
		return
	}
	for i, piece := range pieces {
		if !e.generate(min(wordsPerChunk, len(words)-i*wordsPerChunk)) ||
			!e.send("content_block_delta", obj{"type": "content_block_delta", "index": 0, "delta": obj{"type": "text_delta", "text": piece}}) {
			return
		}
	}
	_ = e.send("content_block_stop", obj{"type": "content_block_stop", "index": 0}) &&
		e.send("message_delta", obj{
			"type":  "message_delta",
			"delta": obj{"stop_reason": msg.StopReason, "stop_sequence": nil},
			"usage": obj{"output_tokens": msg.Usage.OutputTokens},
		}) &&
		e.send("message_stop", obj{"type": "message_stop"})
}

// stream answers a chat completion with "stream": true: a first chunk with
// the role, one chunk per piece of text (paced by the output rate), a last
// chunk with the finish reason, a usage chunk when the request asked for
// stream_options.include_usage, and data: [DONE].
func (o openAIAPI) stream(p *reply, done chatCompletion, words []string, includeUsage bool) {
	pieces := chunks(words)
	e := startSSE(p, len(pieces)+4)

	var usage any // absent, or null on every chunk but the usage one
	if includeUsage {
		usage = json.RawMessage("null")
	}
	chunk := func(delta chatDelta, finish *string) chatChunk {
		return chatChunk{
			ID: done.ID, Object: "chat.completion.chunk", Created: done.Created, Model: done.Model,
			SystemFingerprint: done.SystemFingerprint, ServiceTier: done.ServiceTier,
			Choices: []chatChunkChoice{{Delta: delta, FinishReason: finish}},
			Usage:   usage,
		}
	}
	empty := ""
	if !e.send("", chunk(chatDelta{Role: "assistant", Content: &empty}, nil)) {
		return
	}
	for i, piece := range pieces {
		if !e.generate(min(wordsPerChunk, len(words)-i*wordsPerChunk)) ||
			!e.send("", chunk(chatDelta{Content: &piece}, nil)) {
			return
		}
	}
	if !e.send("", chunk(chatDelta{}, &done.Choices[0].FinishReason)) {
		return
	}
	if includeUsage {
		last := chunk(chatDelta{}, nil)
		last.Choices, last.Usage = []chatChunkChoice{}, done.Usage
		if !e.send("", last) {
			return
		}
	}
	e.sendRaw("", []byte("[DONE]"))
}
