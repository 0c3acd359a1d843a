package proxy

import (
	"errors"
	"net/http"
	"strings"
	"sync"
)

// When a Shutdown's grace runs out, the event streams still being sent
// are cut with the connections. A response sent during the drain carries
// Connection: close, and Node's fetch (under the official SDKs) takes a
// body ended by the close of such a response for a whole one: the stream
// ended cleanly for the client, half its events missing (outside
// review). So each is first ended with an SSE error event, which the
// Anthropic and OpenAI SDKs raise as an error, and nothing is written
// after it.

// errStreamCut is what a write to a stream gets once it is cut.
var errStreamCut = errors.New("proxy: stopping: the stream was cut")

// streamCutEvent ends a cut stream: a blank line first, so that an event
// half written is ended too, then an error in the shape both APIs use.
const streamCutEvent = "\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"sluice proxy: stopping; the stream was cut before its end\"}}\n\n"

// liveStreams are the event streams a route is sending.
type liveStreams struct {
	mu  sync.Mutex
	set map[*statusRecorder]struct{}
}

func (l *liveStreams) add(s *statusRecorder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.set == nil {
		l.set = map[*statusRecorder]struct{}{}
	}
	l.set[s] = struct{}{}
}

func (l *liveStreams) remove(s *statusRecorder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.set, s)
}

// cutAll ends every stream still being sent with the error event.
func (l *liveStreams) cutAll() {
	l.mu.Lock()
	streams := make([]*statusRecorder, 0, len(l.set))
	for s := range l.set {
		streams = append(streams, s)
	}
	l.mu.Unlock()
	for _, s := range streams {
		s.stream.cut(s.ResponseWriter)
	}
}

// liveStream serialises the writes to an event stream with its cut.
type liveStream struct {
	mu     sync.Mutex
	isCut  bool
	closed bool // the handler has ended: nothing more may be written
}

func (l *liveStream) write(w http.ResponseWriter, b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isCut {
		return 0, errStreamCut
	}
	return w.Write(b)
}

func (l *liveStream) flush(w http.ResponseWriter) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isCut {
		return errStreamCut
	}
	return http.NewResponseController(w).Flush()
}

func (l *liveStream) cut(w http.ResponseWriter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isCut || l.closed {
		return
	}
	l.isCut = true
	w.Write([]byte(streamCutEvent))
	http.NewResponseController(w).Flush()
}

func (l *liveStream) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
}

// isEventStream reports whether a response with header h is an event
// stream.
func isEventStream(h http.Header) bool {
	return strings.HasPrefix(strings.TrimSpace(strings.ToLower(h.Get("Content-Type"))), "text/event-stream")
}
